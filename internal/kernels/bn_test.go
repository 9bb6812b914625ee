package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bnGuard fills the guard zone after every output of the batch-norm tests.
var bnGuard = math.Float32frombits(0x7fc0bead)

const bnGuardLen = 37

// bnSpecial are values that the activation masks and min/max must handle
// exactly as the Go loops do.
var bnSpecial = []float32{
	0, float32(math.Copysign(0, -1)), 6, math.Nextafter32(6, 7), math.Nextafter32(6, 5),
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-30, -3,
	math.Float32frombits(0xffc00001), // a NaN with the sign bit set
	math.Float32frombits(0xff800001), // a signaling NaN with the sign bit set
}

// bnMatrix returns rows*cols values (about 1 in 8 special, the rest normal
// with the given mean) followed by a guard zone.
func bnMatrix(r *rand.Rand, rows, cols int, mean float64) []float32 {
	s := make([]float32, rows*cols+bnGuardLen)
	for i := range s {
		switch {
		case i >= rows*cols:
			s[i] = bnGuard
		case r.IntN(8) == 0:
			s[i] = bnSpecial[r.IntN(len(bnSpecial))]
		default:
			s[i] = float32(mean + 3*r.NormFloat64())
		}
	}
	return s
}

func bnVec32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func bnVec64(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.NormFloat64()
	}
	return s
}

// sameBits32 reports whether a and b are equal bit for bit, any NaN
// matching any NaN (which of two NaN operands x86 propagates depends on
// the operand order the compiler picks, so no two compilations promise the
// same NaN), and the first index where they are not. The NaNs whose sign
// matters, those that decide a ReLU mask, come out of max(v, 0), which
// clears the sign whatever the input NaN: the masks are checked exactly
// through the gradients.
func sameBits32(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i, false
		}
	}
	return 0, true
}

func sameBits64(a, b []float64) (int, bool) {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return i, false
		}
	}
	return 0, true
}

// refKeep is the activation's gradient mask, written independently of
// actKeep: ReLU passes where z > 0 (and -0, whose bits minus one wrap
// positive), ReLU6 also where 6-z does.
func refKeep(z float32, act Act) bool {
	pass := func(v float32) bool {
		b := math.Float32bits(v)
		return b != 0 && b <= 0x80000000
	}
	switch act {
	case ActReLU:
		return pass(z)
	case ActReLU6:
		return pass(z) && pass(6-z)
	}
	return true
}

// bnShapes are (rows, cols) around the 16-channel blocks.
var bnShapes = [][2]int{{1, 1}, {3, 15}, {2, 16}, {5, 17}, {7, 31}, {4, 32}, {9, 33}, {3, 48}, {11, 64}, {6, 65}, {2, 100}, {0, 16}, {3, 0}}

// forEachBNPath runs f with each supported path forced.
func forEachBNPath(t *testing.T, f func(t *testing.T, p Path)) {
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		t.Run(p.String(), func(t *testing.T) { f(t, p) })
		restore()
	}
}

func TestChannelSums(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, sh := range bnShapes {
			rows, cols := sh[0], sh[1]
			x := bnMatrix(r, rows, cols, 5)
			shift := bnVec64(r, cols)
			s, q := make([]float64, cols+1), make([]float64, cols+1)
			s[cols], q[cols] = 42, 43 // guards
			for j := range cols {
				s[j], q[j] = math.NaN(), 7 // overwritten, not accumulated
			}
			ChannelSums(x[:rows*cols], rows, cols, shift, s[:cols], q[:cols])
			ws, wq := make([]float64, cols), make([]float64, cols)
			for j := range cols {
				for i := range rows {
					d := float64(x[i*cols+j]) - shift[j]
					ws[j] += d
					wq[j] += d * d
				}
			}
			if i, ok := sameBits64(s[:cols], ws); !ok {
				t.Errorf("%dx%d: s[%d] = %v, want %v", rows, cols, i, s[i], ws[i])
			}
			if i, ok := sameBits64(q[:cols], wq); !ok {
				t.Errorf("%dx%d: q[%d] = %v, want %v", rows, cols, i, q[i], wq[i])
			}
			if s[cols] != 42 || q[cols] != 43 {
				t.Errorf("%dx%d: guard after s or q overwritten", rows, cols)
			}
		}
	})
}

func TestNormAct(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, act := range []Act{ActLinear, ActReLU, ActReLU6} {
			for _, sh := range bnShapes {
				rows, cols := sh[0], sh[1]
				name := fmt.Sprintf("act%d %dx%d", act, rows, cols)
				x := bnMatrix(r, rows, cols, 0.5)
				ctr, sc, beta := bnVec32(r, cols), bnVec32(r, cols), bnVec32(r, cols)
				if cols > 0 {
					beta[0] = float32(math.Copysign(0, -1))
					sc[cols-1] = 0
				}
				y := bnMatrix(r, rows, cols, 0)
				p := NormParams{Center: ctr, Scale: sc, Beta: beta, Act: act}
				NormAct(x[:rows*cols], y[:rows*cols], rows, cols, p)
				want := make([]float32, rows*cols+bnGuardLen)
				for i := range want {
					want[i] = bnGuard
				}
				for i := range rows {
					for j := range cols {
						want[i*cols+j] = refNormAct(x[i*cols+j], ctr[j], sc[j], beta[j], act)
					}
				}
				if i, ok := sameBits32(y, want); !ok {
					t.Errorf("%s: y[%d] = %v (%#x), want %v (%#x)", name, i, y[i], math.Float32bits(y[i]), want[i], math.Float32bits(want[i]))
				}
				// In place.
				NormAct(x[:rows*cols], x[:rows*cols], rows, cols, p)
				if i, ok := sameBits32(x, want); !ok {
					t.Errorf("%s in place: y[%d] = %v, want %v", name, i, x[i], want[i])
				}
			}
		}
	})
}

// refNormAct is the forward value that the backward passes recompute:
// Go's max and min, whose NaN bits (max clears the sign) decide the mask.
func refNormAct(v, c, sc, b float32, act Act) float32 {
	t := (v-c)*sc + b
	switch act {
	case ActReLU:
		return max(t, 0)
	case ActReLU6:
		return min(max(t, 0), 6)
	}
	return t
}

// bnParams returns random per-channel center, scale and beta, with scale
// large enough that some outputs exceed 6, a -0 beta and a zero scale.
func bnParams(r *rand.Rand, cols int, act Act) NormParams {
	p := NormParams{Center: bnVec32(r, cols), Scale: bnVec32(r, cols), Beta: bnVec32(r, cols), Act: act}
	for j := range p.Scale {
		p.Scale[j] *= 3
	}
	if cols > 1 {
		p.Beta[0] = float32(math.Copysign(0, -1))
		p.Scale[cols-1] = 0
	}
	return p
}

func TestChannelGradSums(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, _ Path) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, act := range []Act{ActLinear, ActReLU, ActReLU6} {
			for _, sh := range bnShapes {
				rows, cols := sh[0], sh[1]
				name := fmt.Sprintf("act%d %dx%d", act, rows, cols)
				x := bnMatrix(r, rows, cols, 1)
				dy := bnMatrix(r, rows, cols, 0)
				p := bnParams(r, cols, act)
				if act == ActLinear {
					p.Scale, p.Beta = nil, nil
				}
				ctr := bnVec64(r, cols)
				s, q := make([]float64, cols), make([]float64, cols)
				ChannelGradSums(x[:rows*cols], dy[:rows*cols], rows, cols, p, ctr, s, q)
				ws, wq := make([]float64, cols), make([]float64, cols)
				for j := range cols {
					for i := range rows {
						g := float64(dy[i*cols+j])
						if act != ActLinear && !refKeep(refNormAct(x[i*cols+j], p.Center[j], p.Scale[j], p.Beta[j], act), act) {
							g = 0
						}
						ws[j] += g
						wq[j] += g * (float64(x[i*cols+j]) - ctr[j])
					}
				}
				if i, ok := sameBits64(s, ws); !ok {
					t.Errorf("%s: s[%d] = %v, want %v", name, i, s[i], ws[i])
				}
				if i, ok := sameBits64(q, wq); !ok {
					t.Errorf("%s: q[%d] = %v, want %v", name, i, q[i], wq[i])
				}
			}
		}
	})
}

func TestNormActGrad(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, _ Path) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, act := range []Act{ActLinear, ActReLU, ActReLU6} {
			for _, sh := range bnShapes {
				rows, cols := sh[0], sh[1]
				name := fmt.Sprintf("act%d %dx%d", act, rows, cols)
				x := bnMatrix(r, rows, cols, 1)
				dy := bnMatrix(r, rows, cols, 0)
				p := bnParams(r, cols, act)
				k1, k2, k3 := bnVec32(r, cols), bnVec32(r, cols), bnVec32(r, cols)
				dx := bnMatrix(r, rows, cols, 0)
				NormActGrad(x[:rows*cols], dy[:rows*cols], dx[:rows*cols], rows, cols, p, k1, k2, k3)
				want := make([]float32, rows*cols+bnGuardLen)
				for i := range want {
					want[i] = bnGuard
				}
				for i := range rows {
					for j := range cols {
						g := dy[i*cols+j]
						if act != ActLinear && !refKeep(refNormAct(x[i*cols+j], p.Center[j], p.Scale[j], p.Beta[j], act), act) {
							g = 0
						}
						want[i*cols+j] = k1[j]*g + k2[j]*(x[i*cols+j]-p.Center[j]) + k3[j]
					}
				}
				if i, ok := sameBits32(dx, want); !ok {
					t.Errorf("%s: dx[%d] = %v, want %v", name, i, dx[i], want[i])
				}
				// dx in place of dy.
				NormActGrad(x[:rows*cols], dy[:rows*cols], dy[:rows*cols], rows, cols, p, k1, k2, k3)
				if i, ok := sameBits32(dy, want); !ok {
					t.Errorf("%s in place: dx[%d] = %v, want %v", name, i, dy[i], want[i])
				}
			}
		}
	})
}

// TestBNPathsExercised fails if a path this CPU supports did not run its
// own batch-norm code for a 16-channel matrix.
func TestBNPathsExercised(t *testing.T) {
	x := make([]float32, 2*32)
	v := make([]float64, 32)
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := p
		if p == AVX2 {
			want = Generic // no AVX2 batch-norm code: the Go loops run
		}
		before := passCalls[want].Load()
		ChannelSums(x, 2, 32, v, v, v)
		restore()
		if passCalls[want].Load() == before {
			t.Errorf("ChannelSums with SetPath(%v) did not run the %v code", p, want)
		}
	}
}

// BenchmarkBNPasses times the four passes on mnist-cnn's conv2 output at
// batch 128 ((73728, 64)), one thread, per path.
func BenchmarkBNPasses(b *testing.B) {
	const rows, cols = 128 * 24 * 24, 64
	r := rand.New(rand.NewPCG(1, 1))
	x := bnMatrix(r, rows, cols, 1)[:rows*cols]
	dy := bnMatrix(r, rows, cols, 0)[:rows*cols]
	y := make([]float32, rows*cols)
	v32 := bnVec32(r, cols)
	v64 := bnVec64(r, cols)
	s, q := make([]float64, cols), make([]float64, cols)
	for _, p := range SupportedPaths() {
		if p == AVX2 {
			continue
		}
		restore := SetPath(p)
		b.Run(p.String(), func(b *testing.B) {
			b.SetBytes(4 * rows * cols * 4)
			for b.Loop() {
				ChannelSums(x, rows, cols, v64, s, q)
				p := NormParams{Center: v32, Scale: v32, Beta: v32, Act: ActReLU}
				NormAct(x, y, rows, cols, p)
				ChannelGradSums(x, dy, rows, cols, p, v64, s, q)
				NormActGrad(x, dy, y, rows, cols, p, v32, v32, v32)
			}
		})
		restore()
	}
}

// TestChannelGradSumsAddSplit checks that ChannelGradSumsAdd over
// consecutive row ranges, after clearing, gives the bits of one
// ChannelGradSums over all the rows (the fused BN + max-pool backward
// relies on it), on every path, and that it adds to s and q.
func TestChannelGradSumsAddSplit(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, _ Path) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, act := range []Act{ActLinear, ActReLU, ActReLU6} {
			for _, cols := range []int{5, 16, 33, 64} {
				const rows = 23
				x := bnMatrix(r, rows, cols, 1)
				dy := bnMatrix(r, rows, cols, 0)
				p := bnParams(r, cols, act)
				ctr := bnVec64(r, cols)
				ws, wq := make([]float64, cols), make([]float64, cols)
				ChannelGradSums(x, dy, rows, cols, p, ctr, ws, wq)
				s, q := bnVec64(r, cols), bnVec64(r, cols)
				clear(s)
				clear(q)
				for _, cut := range [][2]int{{0, 1}, {1, 9}, {9, 9}, {9, 23}} {
					a, e := cut[0], cut[1]
					ChannelGradSumsAdd(x[a*cols:e*cols], dy[a*cols:e*cols], e-a, cols, p, ctr, s, q)
				}
				if i, ok := sameBits64(s, ws); !ok {
					t.Errorf("act%d cols %d: s[%d] = %v, want %v", act, cols, i, s[i], ws[i])
				}
				if i, ok := sameBits64(q, wq); !ok {
					t.Errorf("act%d cols %d: q[%d] = %v, want %v", act, cols, i, q[i], wq[i])
				}
				// It adds to what s and q hold: the same rows again, row
				// by row onto the sums, as a plain loop does.
				ChannelGradSumsAdd(x, dy, rows, cols, p, ctr, s, q)
				for j := range cols {
					for i := range rows {
						g := float64(dy[i*cols+j])
						if act != ActLinear && !refKeep(refNormAct(x[i*cols+j], p.Center[j], p.Scale[j], p.Beta[j], act), act) {
							g = 0
						}
						ws[j] += g
						wq[j] += g * (float64(x[i*cols+j]) - ctr[j])
					}
				}
				if i, ok := sameBits64(s, ws); !ok {
					t.Errorf("act%d cols %d: after adding again, s[%d] = %v, want %v", act, cols, i, s[i], ws[i])
				}
				if i, ok := sameBits64(q, wq); !ok {
					t.Errorf("act%d cols %d: after adding again, q[%d] = %v, want %v", act, cols, i, q[i], wq[i])
				}
			}
		}
	})
}
