package kernels

import "github.com/goqat/goqat/internal/cpupath"

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

// paths is the table behind Path: support, the GOQAT_F32_PATH cap and the
// active path.
var paths = cpupath.New("kernels", "GOQAT_F32_PATH", []string{"generic", "avx2", "avx512"}, []bool{true, hasAVX2FMA, hasAVX512F})

// String returns the path's name as GOQAT_F32_PATH spells it.
func (p Path) String() string { return paths.Name(int(p)) }

// ParsePath returns the path named s ("generic", "avx2" or "avx512", any
// case), or an error for any other name.
func ParsePath(s string) (Path, error) {
	p, err := paths.Parse(s)
	return Path(p), err
}

// supported reports whether this build and this CPU can run path p.
func supported(p Path) bool { return paths.Supported(int(p)) }

// SupportedPaths lists the paths this build can run on this CPU, Generic
// first and the fastest last. It ignores GOQAT_F32_PATH, which only caps the
// default choice, so that tests can still force every path.
func SupportedPaths() []Path {
	var ps []Path
	for _, p := range paths.All() {
		ps = append(ps, Path(p))
	}
	return ps
}

// defaultPath is the fastest supported path not above the one named by
// GOQAT_F32_PATH (env); an empty or unknown name sets no cap.
func defaultPath(env string) Path { return Path(paths.Default(env)) }

// ActivePath returns the path Sgemm currently uses.
func ActivePath() Path { return Path(paths.Active()) }

// SetPath makes Sgemm use path p, for tests and benchmarks, and returns a
// function that restores the previous path. It panics if p is not one of
// SupportedPaths(): running an instruction set the CPU lacks would crash, so
// asking for it is a programming error. It is safe for concurrent use, but
// the path is global: concurrent callers see each other's choice.
func SetPath(p Path) (restore func()) { return paths.Set(int(p)) }
