package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxWindow compares MaxWindow on every path with the plain loop, on
// channel counts around the 16-lane blocks, with ties (values from a small
// set), NaN and -0/+0, and guard values after the outputs.
func TestMaxWindow(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(31, 32))
		vals := []float32{-1, 0, float32(math.Copysign(0, -1)), 1, 2, float32(math.NaN()), float32(math.Inf(-1))}
		for _, C := range []int{1, 5, 15, 16, 17, 32, 33, 64, 70} {
			for _, ntaps := range []int{1, 2, 4, 9} {
				pixels := ntaps + 3
				img := make([]float32, pixels*C)
				for i := range img {
					img[i] = vals[r.IntN(len(vals))]
				}
				offs := make([]int32, ntaps)
				for i := range offs {
					offs[i] = int32(r.IntN(pixels) * C)
				}
				o := make([]float32, C+bnGuardLen)
				a := make([]int32, C+bnGuardLen)
				for i := range o {
					o[i], a[i] = bnGuard, -7
				}
				MaxWindow(img, offs, o[:C], a[:C])
				for c := 0; c < C; c++ {
					wo, wa := img[int(offs[0])+c], offs[0]+int32(c)
					for _, off := range offs[1:] {
						if v := img[int(off)+c]; v > wo {
							wo, wa = v, off+int32(c)
						}
					}
					if math.Float32bits(o[c]) != math.Float32bits(wo) || a[c] != wa {
						t.Fatalf("C=%d taps=%d: channel %d = %v at %d, want %v at %d", C, ntaps, c, o[c], a[c], wo, wa)
					}
				}
				for i := C; i < len(o); i++ {
					if math.Float32bits(o[i]) != math.Float32bits(bnGuard) || a[i] != -7 {
						t.Fatalf("C=%d taps=%d: guard %d overwritten", C, ntaps, i-C)
					}
				}
			}
		}
	})
}

// TestMaxWindowPathsExercised fails if a path this CPU supports did not
// run its own max-pool code for 16 channels.
func TestMaxWindowPathsExercised(t *testing.T) {
	img := make([]float32, 32)
	o, a := make([]float32, 16), make([]int32, 16)
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := p
		if p == AVX2 {
			want = Generic // no AVX2 max-pool code: the Go loop runs
		}
		before := passCalls[want].Load()
		MaxWindow(img, []int32{0, 16}, o, a)
		restore()
		if passCalls[want].Load() == before {
			t.Errorf("MaxWindow with SetPath(%v) did not run the %v code", p, want)
		}
	}
}

// TestRouteMax compares RouteMax on every path with the plain loop (bit
// for bit: a -0 gradient comes out +0, as from a scatter into zeros), on
// disjoint windows of a padded image whose other cells must stay as they
// were.
func TestRouteMax(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(51, 52))
		for _, C := range []int{1, 7, 16, 17, 32, 40, 64} {
			for _, ntaps := range []int{1, 2, 4, 9} {
				cells := 2*ntaps + 1
				perm := r.Perm(cells)
				offs := make([]int32, ntaps)
				for i := range offs {
					offs[i] = int32(perm[i] * C) // distinct cells
				}
				g := bnMatrix(r, 1, C, 0)[:C]
				g[0] = float32(math.Copysign(0, -1))
				arg := make([]int32, C)
				for c := range arg {
					arg[c] = offs[r.IntN(ntaps)] + int32(c)
					if r.IntN(5) == 0 {
						arg[c] = -1 // matches no tap
					}
				}
				dIn := make([]float32, cells*C+bnGuardLen)
				for i := range dIn {
					dIn[i] = bnGuard
				}
				want := append([]float32(nil), dIn...)
				for _, off := range offs {
					for c := 0; c < C; c++ {
						var v float32
						if arg[c] == off+int32(c) {
							v = 0 + g[c]
							if v == 0 {
								v = 0 // +0
							}
						}
						want[int(off)+c] = v
					}
				}
				RouteMax(dIn[:cells*C], g, arg, offs)
				if i, ok := sameBits32(dIn, want); !ok {
					t.Fatalf("C=%d taps=%d: dIn[%d] = %v, want %v", C, ntaps, i, dIn[i], want[i])
				}
			}
		}
	})
}

// TestRouteMaxPathsExercised fails if a path this CPU supports did not run
// its own code for 16 channels.
func TestRouteMaxPathsExercised(t *testing.T) {
	dIn := make([]float32, 32)
	g, arg := make([]float32, 16), make([]int32, 16)
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := p
		if p == AVX2 {
			want = Generic
		}
		before := passCalls[want].Load()
		RouteMax(dIn, g, arg, []int32{0, 16})
		restore()
		if passCalls[want].Load() == before {
			t.Errorf("RouteMax with SetPath(%v) did not run the %v code", p, want)
		}
	}
}
