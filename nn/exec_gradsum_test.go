package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
)

// TestGradSumBits checks Model.addGrad's sum (gradSum) against the Go
// loop it replaced, bit for bit, on odd lengths around the kernel's blocks
// of 16 and the threads' share (gradSumGrain), on 1 and 2 threads, into a
// third buffer and in place, and that values past len(y) are untouched.
func TestGradSumBits(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(3, 4))
	const guard = float32(-7.25)
	for _, th := range []int{1, 2} {
		kernels.SetThreads(th)
		for _, n := range []int{0, 1, 15, 17, 33, gradSumGrain - 1, 2*gradSumGrain + 5, 100003} {
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i] = float32(r.NormFloat64()) * 1e3
				b[i] = float32(r.NormFloat64()) * 1e-3
			}
			want := make([]float32, n)
			for i := range want {
				want[i] = a[i] + b[i]
			}
			var g gradSum
			y := make([]float32, n+3)
			for i := range y {
				y[i] = guard
			}
			g.run(a, b, y[:n])
			inPlace := append([]float32(nil), a...)
			g.run(inPlace, b, inPlace)
			for i := range n {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) || math.Float32bits(inPlace[i]) != math.Float32bits(want[i]) {
					t.Fatalf("threads %d, n %d: value %d is %v (in place %v), want %v", th, n, i, y[i], inPlace[i], want[i])
				}
			}
			for i := n; i < len(y); i++ {
				if y[i] != guard {
					t.Fatalf("threads %d, n %d: guard %d overwritten with %v", th, n, i, y[i])
				}
			}
			if g.a != nil || g.b != nil || g.y != nil {
				t.Fatalf("threads %d, n %d: gradSum kept its slices", th, n)
			}
		}
	}
}

// TestGradSumNoAllocs checks that a split gradient sum does not allocate.
func TestGradSumNoAllocs(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(2)
	n := 4 * gradSumGrain
	a, b := make([]float32, n), make([]float32, n)
	var g gradSum
	g.run(a, b, a)
	if allocs := testing.AllocsPerRun(20, func() { g.run(a, b, a) }); allocs != 0 {
		t.Errorf("%v allocations per sum", allocs)
	}
}
