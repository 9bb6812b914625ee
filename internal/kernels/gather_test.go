package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSumTaps compares SumTaps on every path with the plain loop (bit for
// bit, -0 and NaN included), with guard values after the output.
func TestSumTaps(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(41, 42))
		for _, C := range []int{1, 7, 8, 15, 16, 17, 32, 40, 64, 70} {
			for _, ntaps := range []int{0, 1, 2, 5, 9} {
				src := bnMatrix(r, ntaps+3, C, 0)[:(ntaps+3)*C]
				offs := make([]int, ntaps)
				for i := range offs {
					offs[i] = r.IntN((ntaps+3)*C - C + 1)
				}
				d := make([]float32, C+bnGuardLen)
				for i := range d {
					d[i] = bnGuard
				}
				SumTaps(d[:C], src, offs)
				for c := 0; c < C; c++ {
					var want float32
					for _, off := range offs {
						want += src[off+c]
					}
					if math.Float32bits(d[c]) != math.Float32bits(want) && !(d[c] != d[c] && want != want) {
						t.Fatalf("C=%d taps=%d: d[%d] = %v, want %v", C, ntaps, c, d[c], want)
					}
				}
				for i := C; i < len(d); i++ {
					if math.Float32bits(d[i]) != math.Float32bits(bnGuard) {
						t.Fatalf("C=%d taps=%d: guard %d overwritten", C, ntaps, i-C)
					}
				}
			}
		}
	})
}

// TestSumTapsPathsExercised fails if a path this CPU supports did not run
// its own gather code for 16 channels.
func TestSumTapsPathsExercised(t *testing.T) {
	src := make([]float32, 32)
	d := make([]float32, 16)
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := p
		if p == AVX2 {
			want = Generic // no AVX2 gather code: the Go loop runs
		}
		before := passCalls[want].Load()
		SumTaps(d, src, []int{0, 16})
		restore()
		if passCalls[want].Load() == before {
			t.Errorf("SumTaps with SetPath(%v) did not run the %v code", p, want)
		}
	}
}

// TestSumTapsRun compares SumTapsRun on every path with SumTaps pixel by
// pixel (bit for bit, -0 and NaN included): widths below, at and above
// multiples of 16, runs of 1 to 9 pixels (the four-pixel blocks and the
// rest), gaps between the output pixels filled with guard values.
func TestSumTapsRun(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(43, 44))
		for _, C := range []int{1, 8, 15, 16, 17, 32, 48, 70} {
			for _, ntaps := range []int{0, 1, 4, 9} {
				for _, count := range []int{1, 3, 4, 5, 9} {
					gap := r.IntN(3)
					step := C*ntaps + r.IntN(5) // src step per pixel
					src := bnMatrix(r, (ntaps+count+3)*C+count*step, 1, 0)[:(ntaps+count+3)*C+count*step]
					offs := make([]int, ntaps)
					for i := range offs {
						offs[i] = r.IntN((ntaps+3)*C - C + 1)
					}
					d := make([]float32, count*(C+gap)+bnGuardLen)
					for i := range d {
						d[i] = bnGuard
					}
					want := append([]float32(nil), d...)
					for j := 0; j < count; j++ {
						SumTaps(want[j*(C+gap):j*(C+gap)+C], src[j*step:], offs)
					}
					SumTapsRun(d, src, offs, C, count, C+gap, step)
					for i := range d {
						if math.Float32bits(d[i]) != math.Float32bits(want[i]) && !(d[i] != d[i] && want[i] != want[i] && i%(C+gap) < C) {
							t.Fatalf("%v C=%d taps=%d count=%d gap=%d: d[%d] = %v, want %v", p, C, ntaps, count, gap, i, d[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestSumTapsRunPathsExercised fails if the CPU supports AVX-512 and
// SumTapsRun did not run its AVX-512 kernel under that path.
func TestSumTapsRunPathsExercised(t *testing.T) {
	src := make([]float32, 128)
	d := make([]float32, 96)
	for _, p := range SupportedPaths() {
		if p != AVX512 {
			continue
		}
		restore := SetPath(p)
		sumTapsRunRan.Store(false)
		SumTapsRun(d, src, []int{0, 16}, 16, 5, 16, 16)
		restore()
		if !sumTapsRunRan.Load() {
			t.Errorf("SumTapsRun with SetPath(%v) did not run the AVX-512 kernel", p)
		}
	}
}
