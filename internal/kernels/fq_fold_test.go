package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// fqGuard fills the guard zone after every output of the folded-pass tests.
var fqGuard = math.Float32frombits(0x7fc0f00d)

const fqGuardLen = 41

// fqSpecial are values that the folded passes must handle exactly as the
// Go loops do (the masks, the clamp, the extremes, the signs of zero).
var fqSpecial = []float32{
	0, float32(math.Copysign(0, -1)), 6, math.Nextafter32(6, 7), math.Nextafter32(6, 5),
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-30, -3, 2.5, 3.5,
	math.Float32frombits(0xffc00001), // a NaN with the sign bit set
	// The fake quant range edges of fqParams (t*qinv = qlo or qhi) and
	// their neighbours.
	1.984375, -2, 7.96875, math.Nextafter32(1.984375, 2), math.Nextafter32(-2, -3), math.Nextafter32(7.96875, 8),
}

// fqMatrix returns rows*cols values (about 1 in 8 special if special, the
// rest normal with the given spread) followed by a guard zone.
func fqMatrix(r *rand.Rand, rows, cols int, spread float64, special bool) []float32 {
	s := make([]float32, rows*cols+fqGuardLen)
	for i := range s {
		switch {
		case i >= rows*cols:
			s[i] = fqGuard
		case special && r.IntN(8) == 0:
			s[i] = fqSpecial[r.IntN(len(fqSpecial))]
		default:
			s[i] = float32(spread * r.NormFloat64())
		}
	}
	return s
}

// fqParams returns random per-channel parameters: some channels with a
// negative scale, a -0 bias (no bias), a zero scale, and every third the
// identity (inv 1, bias -0, center 0, scale 1, beta -0: t = z, so that the
// special values of z land on the mask edges).
func fqParams(r *rand.Rand, cols int, act Act, quant bool) FoldParams {
	p := FoldParams{Act: act, Quant: quant}
	negZero := float32(math.Copysign(0, -1))
	for j := 0; j < cols; j++ {
		if j%3 == 0 {
			p.Inv = append(p.Inv, 1)
			p.Bias = append(p.Bias, negZero)
			p.Center = append(p.Center, 0)
			p.Scale = append(p.Scale, 1)
			p.Beta = append(p.Beta, negZero)
			continue
		}
		inv := float32(0.5 + r.Float64())
		bias := float32(r.NormFloat64())
		if j%5 == 1 {
			bias = float32(math.Copysign(0, -1))
		}
		scale := float32(0.2 + r.Float64())
		if j%7 == 3 {
			scale = -scale
		}
		if j%11 == 4 {
			scale = 0
		}
		p.Inv = append(p.Inv, inv)
		p.Bias = append(p.Bias, bias)
		p.Center = append(p.Center, float32(0.3*r.NormFloat64()))
		p.Scale = append(p.Scale, scale)
		p.Beta = append(p.Beta, float32(r.NormFloat64()))
	}
	// Range [-2, 1.984375] at scale 1/64 (linear), [0, 7.96875] at 1/32:
	// many values outside it.
	p.QScale, p.QInv, p.QLo, p.QHi = 1.0/64, 64, -128, 127
	if act != ActLinear {
		p.QScale, p.QInv, p.QLo, p.QHi = 1.0/32, 32, 0, 255
	}
	return p
}

func fqVec32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func fqVec64(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.NormFloat64()
	}
	return s
}

// fqPaths runs f once per supported path (AVX2 has no folded code: the Go
// loops run), the Generic path first.
func fqPaths(f func(p Path)) {
	for _, p := range SupportedPaths() {
		if p == AVX2 {
			continue
		}
		restore := SetPath(p)
		f(p)
		restore()
	}
}

// checkGuard fails if the guard zone after n values of s was written.
func checkGuard(t *testing.T, name string, s []float32, n int) {
	t.Helper()
	for i := n; i < len(s); i++ {
		if math.Float32bits(s[i]) != math.Float32bits(fqGuard) {
			t.Fatalf("%s: guard value %d after the output overwritten: %v", name, i-n, s[i])
		}
	}
}

// TestFoldPassesMatchGo checks every path of the four folded passes
// against the Go loops (the Generic path) bit for bit, on channel counts
// with and without a tail of fewer than 16, special values (NaN, infinities,
// signed zeros, the activation and range edges), every activation, with
// and without fake quant, frozen and not, and guard zones after each
// output.
func TestFoldPassesMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, cols := range []int{3, 16, 35, 64} {
		for _, rows := range []int{1, 7} {
			for _, act := range []Act{ActLinear, ActReLU, ActReLU6} {
				for _, quant := range []bool{false, true} {
					name := fmt.Sprintf("rows=%d cols=%d act=%d quant=%v", rows, cols, act, quant)
					p := fqParams(r, cols, act, quant)
					z := fqMatrix(r, rows, cols, 2, true)
					dy := fqMatrix(r, rows, cols, 1, true)
					shift := fqVec64(r, cols)
					center64 := fqVec64(r, cols)
					k1, k2, k3 := fqVec32(r, cols), fqVec32(r, cols), fqVec32(r, cols)
					type result struct {
						s, q, gs, gq, s1, s2, f1, f2 []float64
						lo, hi, out, dz, dzf         []float32
					}
					var ref *result
					fqPaths(func(path Path) {
						n := rows * cols
						res := &result{
							s: make([]float64, cols), q: make([]float64, cols),
							gs: make([]float64, cols), gq: make([]float64, cols),
							s1: make([]float64, cols), s2: make([]float64, cols),
							f1: make([]float64, cols), f2: make([]float64, cols),
							lo: make([]float32, cols), hi: make([]float32, cols),
							out: fqMatrix(r, rows, cols, 1, false), dz: fqMatrix(r, rows, cols, 1, false),
							dzf: fqMatrix(r, rows, cols, 1, false),
						}
						FoldStats(z, rows, cols, p, shift, res.s, res.q, res.lo, res.hi)
						FoldForward(z, res.out, rows, cols, p)
						FoldGradSums(z, dy, rows, cols, p, center64, res.gs, res.gq)
						FoldGrad(z, dy, res.dz, rows, cols, p, k1, k2, k3, res.s1, res.s2)
						FoldGrad(z, dy, res.dzf, rows, cols, p, nil, nil, nil, res.f1, res.f2)
						for _, o := range [][]float32{res.out, res.dz, res.dzf} {
							checkGuard(t, name+" "+path.String(), o, n)
						}
						if path == Generic {
							ref = res
							return
						}
						for _, c := range []struct {
							what      string
							got, want []float32
						}{{"lo", res.lo, ref.lo}, {"hi", res.hi, ref.hi}, {"out", res.out[:n], ref.out[:n]}, {"dz", res.dz[:n], ref.dz[:n]}, {"dz frozen", res.dzf[:n], ref.dzf[:n]}} {
							if i, ok := sameBits32(c.got, c.want); !ok {
								t.Errorf("%s %v: %s[%d] = %v, Go %v", name, path, c.what, i, c.got[i], c.want[i])
							}
						}
						for _, c := range []struct {
							what      string
							got, want []float64
						}{{"s", res.s, ref.s}, {"q", res.q, ref.q}, {"grad s", res.gs, ref.gs}, {"grad q", res.gq, ref.gq},
							{"s1", res.s1, ref.s1}, {"s2", res.s2, ref.s2}, {"frozen s1", res.f1, ref.f1}, {"frozen s2", res.f2, ref.f2}} {
							if i, ok := sameBits64(c.got, c.want); !ok {
								t.Errorf("%s %v: %s[%d] = %v, Go %v", name, path, c.what, i, c.got[i], c.want[i])
							}
						}
					})
					// In place: dz may be dy.
					fqPaths(func(path Path) {
						d := append([]float32(nil), dy...)
						s1, s2 := make([]float64, cols), make([]float64, cols)
						want := make([]float32, len(dy))
						FoldGrad(z, dy, want, rows, cols, p, k1, k2, k3, s1, s2)
						FoldGrad(z, d, d, rows, cols, p, k1, k2, k3, s1, s2)
						if i, ok := sameBits32(d[:rows*cols], want[:rows*cols]); !ok {
							t.Errorf("%s %v in place: dz[%d] = %v, want %v", name, path, i, d[i], want[i])
						}
					})
				}
			}
		}
	}
}

// TestFoldPassesSpec checks the Go loops against the chain written out
// with the existing batch-norm loops and the fake quant expression: the
// folded passes compute what unfold, BatchNormalization, the activation
// and the fake quant compute one after the other.
func TestFoldPassesSpec(t *testing.T) {
	defer SetPath(Generic)()
	r := rand.New(rand.NewPCG(33, 34))
	const rows, cols = 9, 19
	for _, act := range []Act{ActLinear, ActReLU, ActReLU6} {
		p := fqParams(r, cols, act, true)
		z := fqMatrix(r, rows, cols, 2, false)
		dy := fqMatrix(r, rows, cols, 1, false)
		u := make([]float32, rows*cols)
		for i := range u {
			u[i] = z[i]*p.Inv[i%cols] + p.Bias[i%cols]
		}
		a := make([]float32, rows*cols)
		NormAct(u, a, rows, cols, NormParams{Center: p.Center, Scale: p.Scale, Beta: p.Beta, Act: act})
		out := make([]float32, rows*cols)
		FoldForward(z, out, rows, cols, p)
		g := make([]float32, rows*cols)
		for i, v := range a {
			q := v * p.QInv
			in := !(q < p.QLo) && !(q > p.QHi)
			want := min(max(q, p.QLo), p.QHi)
			want = ((want + foldRoundMagic) - foldRoundMagic) * p.QScale // quantize's fake quant
			if math.Abs(float64(want/p.QScale)-math.RoundToEven(float64(q))) > 0 && !(q < p.QLo || q > p.QHi) {
				t.Fatalf("act %d: %v does not round %v half to even", act, want/p.QScale, q)
			}
			if math.Float32bits(out[i]) != math.Float32bits(want) {
				t.Fatalf("act %d: out[%d] = %v, want %v", act, i, out[i], want)
			}
			pass := act == ActLinear || v > 0 && (act != ActReLU6 || v < 6)
			if pass && in {
				g[i] = dy[i]
			}
		}
		shift, s, q := make([]float64, cols), make([]float64, cols), make([]float64, cols)
		ws, wq := make([]float64, cols), make([]float64, cols)
		lo, hi := make([]float32, cols), make([]float32, cols)
		FoldStats(z, rows, cols, p, shift, s, q, lo, hi)
		ChannelSums(u, rows, cols, shift, ws, wq)
		if i, ok := sameBits64(s, ws); !ok {
			t.Errorf("act %d: stats s[%d] = %v, ChannelSums %v", act, i, s[i], ws[i])
		}
		if i, ok := sameBits64(q, wq); !ok {
			t.Errorf("act %d: stats q[%d] = %v, ChannelSums %v", act, i, q[i], wq[i])
		}
		for j := 0; j < cols; j++ {
			l, h := float32(math.Inf(1)), float32(math.Inf(-1))
			for r := 0; r < rows; r++ {
				l, h = min(l, u[r*cols+j]), max(h, u[r*cols+j])
			}
			if lo[j] != l || hi[j] != h {
				t.Errorf("act %d: channel %d range [%v, %v], want [%v, %v]", act, j, lo[j], hi[j], l, h)
			}
		}
		center := fqVec64(r, cols)
		FoldGradSums(z, dy, rows, cols, p, center, s, q)
		ChannelGradSums(u, g, rows, cols, NormParams{Act: ActLinear}, center, ws, wq)
		if i, ok := sameBits64(s, ws); !ok {
			t.Errorf("act %d: grad sums s[%d] = %v, ChannelGradSums %v", act, i, s[i], ws[i])
		}
		if i, ok := sameBits64(q, wq); !ok {
			t.Errorf("act %d: grad sums q[%d] = %v, ChannelGradSums %v", act, i, q[i], wq[i])
		}
		k1, k2, k3 := fqVec32(r, cols), fqVec32(r, cols), fqVec32(r, cols)
		du := make([]float32, rows*cols)
		NormActGrad(u, g, du, rows, cols, NormParams{Center: p.Center, Act: ActLinear}, k1, k2, k3)
		dz := make([]float32, rows*cols)
		FoldGrad(z, dy, dz, rows, cols, p, k1, k2, k3, s, q)
		for i, v := range du {
			if want := v * p.Inv[i%cols]; math.Float32bits(dz[i]) != math.Float32bits(want) {
				t.Fatalf("act %d: dz[%d] = %v, want %v", act, i, dz[i], want)
			}
		}
		FoldGrad(z, dy, dz, rows, cols, p, nil, nil, nil, s, q)
		for i, v := range g {
			if math.Float32bits(dz[i]) != math.Float32bits(v) {
				t.Fatalf("act %d: frozen dz[%d] = %v, want %v", act, i, dz[i], v)
			}
		}
	}
}

// TestFoldPathsExercised fails if a path this CPU supports did not run its
// own folded-pass code for a 16-channel matrix.
func TestFoldPathsExercised(t *testing.T) {
	z := make([]float32, 2*32)
	v := make([]float64, 32)
	lo, hi := make([]float32, 32), make([]float32, 32)
	p := FoldParams{Inv: lo, Bias: lo, Center: lo, Scale: lo, Beta: lo}
	for _, path := range SupportedPaths() {
		restore := SetPath(path)
		want := path
		if path == AVX2 {
			want = Generic // no AVX2 folded code: the Go loops run
		}
		before := fqCalls[want].Load()
		FoldStats(z, 2, 32, p, v, v, v, lo, hi)
		restore()
		if fqCalls[want].Load() == before {
			t.Errorf("FoldStats with SetPath(%v) did not run the %v code", path, want)
		}
	}
}

// BenchmarkFoldPasses times the four passes on mnist-cnn's conv2 output at
// batch 128 ((73728, 64)), one thread, per path.
func BenchmarkFoldPasses(b *testing.B) {
	const rows, cols = 128 * 24 * 24, 64
	r := rand.New(rand.NewPCG(1, 1))
	z := fqMatrix(r, rows, cols, 1, false)[:rows*cols]
	dy := fqMatrix(r, rows, cols, 1, false)[:rows*cols]
	y := make([]float32, rows*cols)
	p := fqParams(r, cols, ActReLU, true)
	k := fqVec32(r, cols)
	v64 := fqVec64(r, cols)
	s, q := make([]float64, cols), make([]float64, cols)
	lo, hi := make([]float32, cols), make([]float32, cols)
	fqPaths(func(path Path) {
		b.Run(path.String(), func(b *testing.B) {
			b.SetBytes(7 * rows * cols * 4)
			for b.Loop() {
				FoldStats(z, rows, cols, p, v64, s, q, lo, hi)
				FoldForward(z, y, rows, cols, p)
				FoldGradSums(z, dy, rows, cols, p, v64, s, q)
				FoldGrad(z, dy, y, rows, cols, p, k, k, k, s, q)
			}
		})
	})
}
