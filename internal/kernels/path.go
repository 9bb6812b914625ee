package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Path names one implementation of the float32 kernels: which micro-kernel
// Sgemm runs. Paths are ordered from the most portable to the fastest.
type Path int

const (
	// Generic is the pure-Go path, available everywhere and the only one
	// built under -tags noasm.
	Generic Path = iota
	// AVX2 uses the 6x16 AVX2+FMA micro-kernel (Y registers).
	AVX2
	// AVX512 uses the 12x32 AVX-512F micro-kernel (Z registers).
	AVX512
	numPaths
)

// String returns the path's name as GOQAT_F32_PATH spells it.
func (p Path) String() string {
	switch p {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// ParsePath returns the path named s ("generic", "avx2" or "avx512", any
// case), or an error for any other name.
func ParsePath(s string) (Path, error) {
	for p := Generic; p < numPaths; p++ {
		if strings.EqualFold(strings.TrimSpace(s), p.String()) {
			return p, nil
		}
	}
	return Generic, fmt.Errorf("kernels: unknown path %q (want generic, avx2 or avx512)", s)
}

// supported reports whether this build and this CPU can run path p.
func supported(p Path) bool {
	switch p {
	case Generic:
		return true
	case AVX2:
		return hasAVX2FMA
	case AVX512:
		return hasAVX512F
	}
	return false
}

// SupportedPaths lists the paths this build can run on this CPU, Generic
// first and the fastest last. It ignores GOQAT_F32_PATH, which only caps the
// default choice, so that tests can still force every path.
func SupportedPaths() []Path {
	var ps []Path
	for p := Generic; p < numPaths; p++ {
		if supported(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// active is the path Sgemm uses.
var active atomic.Int32

func init() { active.Store(int32(defaultPath(os.Getenv("GOQAT_F32_PATH")))) }

// defaultPath is the fastest supported path not above the one named by
// GOQAT_F32_PATH (env); an empty or unknown name sets no cap.
func defaultPath(env string) Path {
	limit := numPaths - 1
	if env != "" {
		if p, err := ParsePath(env); err == nil {
			limit = p
		}
	}
	best := Generic
	for _, p := range SupportedPaths() {
		if p <= limit {
			best = p
		}
	}
	return best
}

// ActivePath returns the path Sgemm currently uses.
func ActivePath() Path { return Path(active.Load()) }

// SetPath makes Sgemm use path p, for tests and benchmarks, and returns a
// function that restores the previous path. It panics if p is not one of
// SupportedPaths(): running an instruction set the CPU lacks would crash, so
// asking for it is a programming error. It is safe for concurrent use, but
// the path is global: concurrent callers see each other's choice.
func SetPath(p Path) (restore func()) {
	if p < 0 || p >= numPaths || !supported(p) {
		panic(fmt.Sprintf("kernels: SetPath(%v): path not supported here (supported: %v)", p, SupportedPaths()))
	}
	prev := active.Swap(int32(p))
	return func() { active.Store(prev) }
}
