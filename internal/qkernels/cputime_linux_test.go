package qkernels

import (
	"syscall"
	"unsafe"
)

// threadCPU returns the CPU seconds the calling thread has used (lock the
// goroutine to its thread around a measurement): on a machine shared
// with other work a steadier clock than the wall for one-thread work.
func threadCPU() float64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return float64(ts.Nano()) / 1e9
}
