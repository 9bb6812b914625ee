// Package qkernels holds goqat's int8 matrix kernels: the product of uint8
// activations by packed int8 weights with int32 accumulation, and the
// output stage that requantizes accumulators to int8 (docs/DESIGN.md, Numerics).
// Each path (pure Go, AVX2, AVX-512 VNNI) computes bit for bit the same
// integers; tests hold every path the CPU supports to the reference.
//
// Activations enter as uint8: a' = a + 128 (a XOR 0x80), so that one
// VPDPBUSD multiplies four unsigned activation bytes by four signed weight
// bytes. The +128 is taken back through precomputed weight column sums
// folded into each column's constant offset:
//
//	sum_k (a[k]-zpIn)*w[k][n] + bias[n] = sum_k a'[k]*w[k][n] + (bias[n] - (zpIn+128)*colsum[n])
package qkernels

import "github.com/goqat/goqat/internal/cpupath"

// Path names one implementation of the int8 kernels, from the most portable
// to the fastest.
type Path int

const (
	// Generic is pure Go, available everywhere and the only path built
	// under -tags noasm.
	Generic Path = iota
	// AVX2 widens bytes to 16 bits and multiplies with VPMADDWD (exact; the
	// VPMADDUBSW shortcut saturates and is not).
	AVX2
	// VNNI uses AVX-512 VPDPBUSD on Z registers.
	VNNI
	numPaths
)

// paths is the table behind Path: support, the GOQAT_INT8_PATH cap and the
// active path.
var paths = cpupath.New("qkernels", "GOQAT_INT8_PATH", []string{"generic", "avx2", "avx512vnni"}, []bool{true, hasAVX2, hasVNNI})

// String returns the path's name as GOQAT_INT8_PATH spells it.
func (p Path) String() string { return paths.Name(int(p)) }

// ParsePath returns the path named s, or an error for an unknown name.
func ParsePath(s string) (Path, error) {
	p, err := paths.Parse(s)
	return Path(p), err
}

// supported reports whether this build and CPU can run p.
func supported(p Path) bool { return paths.Supported(int(p)) }

// SupportedPaths lists the paths this build can run on this CPU, Generic
// first and the fastest last (GOQAT_INT8_PATH does not filter it).
func SupportedPaths() []Path {
	var ps []Path
	for _, p := range paths.All() {
		ps = append(ps, Path(p))
	}
	return ps
}

// ActivePath returns the path PackWeights picks by default.
func ActivePath() Path { return Path(paths.Active()) }

// SetPath makes p the default path and returns a function restoring the
// previous one. Weights already packed keep the path they were packed for.
// It panics if p is not supported (a programming error).
func SetPath(p Path) (restore func()) { return paths.Set(int(p)) }
