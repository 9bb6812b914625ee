package bounds

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// The environment variables read at start-up for the limits.
const (
	// EnvMemory sets MaxMemory: bytes, with an optional unit (see
	// ParseBytes), e.g. GOQAT_MAX_MEMORY=16GiB.
	EnvMemory = "GOQAT_MAX_MEMORY"
	// EnvWork sets MaxWork: operations per sample, a positive decimal
	// integer.
	EnvWork = "GOQAT_MAX_WORK"
)

// DefaultWork is MaxWork's default: 2^36 (about 69 billion) operations per
// sample, 16 times ResNet-50's multiply-adds at 224x224.
const DefaultWork = 1 << 36

// fallbackMemory is MaxMemory's default where /proc/meminfo cannot be read:
// 8 GiB.
const fallbackMemory = 8 << 30

var (
	maxMemory atomic.Int64
	maxWork   atomic.Int64
)

func init() {
	maxMemory.Store(DefaultMemory())
	if n, err := ParseBytes(os.Getenv(EnvMemory)); err == nil && n > 0 {
		maxMemory.Store(n)
	}
	maxWork.Store(DefaultWork)
	if n, err := strconv.ParseInt(strings.TrimSpace(os.Getenv(EnvWork)), 10, 64); err == nil && n > 0 {
		maxWork.Store(n)
	}
}

// DefaultMemory is MaxMemory's default: half of the machine's memory
// (MemTotal of /proc/meminfo), or 8 GiB where that cannot be read.
func DefaultMemory() int64 {
	if n := memTotal("/proc/meminfo"); n > 0 {
		return n / 2
	}
	return fallbackMemory
}

// memTotal returns the MemTotal line of a meminfo file in bytes, 0 if it
// cannot be read.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) != 2 || fs[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil || kb <= 0 || kb > 1<<50 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// MaxMemory returns the most bytes a model may plan for a run: its
// activations times the batch plus its weights and scratch.
func MaxMemory() int64 { return maxMemory.Load() }

// SetMaxMemory sets MaxMemory; n < 1 restores the default
// (DefaultMemory, not the environment's value).
func SetMaxMemory(n int64) {
	if n < 1 {
		n = DefaultMemory()
	}
	maxMemory.Store(n)
}

// MaxWork returns the most operations (multiply-adds, window taps, values
// written) a model may take per sample.
func MaxWork() int64 { return maxWork.Load() }

// SetMaxWork sets MaxWork; n < 1 restores DefaultWork.
func SetMaxWork(n int64) {
	if n < 1 {
		n = DefaultWork
	}
	maxWork.Store(n)
}
