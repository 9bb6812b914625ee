package qkernels

import (
	"runtime"
	"slices"
	"time"
)

// PeakGOPS measures the VPDPBUSD peak of the core the calling goroutine
// runs on, in giga-operations per second (a multiply-add counts two):
// register-only loops of 24 independent VPDPBUSD, the median of several
// timed bursts over about d. It returns 0 where the VNNI path is not
// built or the CPU lacks it. Reports quote shares of it, measured in the
// same run as the figures (docs/BENCHMARKS.md).
func PeakGOPS(d time.Duration) float64 {
	if !hasVNNI {
		return 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const iters = 1 << 14 // 24 VPDPBUSD x 64 products each per iteration
	vnniPeak(iters)       // warm the vector units
	var rates []float64
	for end := time.Now().Add(d); len(rates) < 5 || time.Now().Before(end); {
		t0 := time.Now()
		vnniPeak(iters)
		if s := time.Since(t0).Seconds(); s > 0 {
			rates = append(rates, 2*24*64*iters/s/1e9)
		}
		if len(rates) > 10000 {
			break
		}
	}
	slices.Sort(rates)
	return rates[len(rates)/2]
}
