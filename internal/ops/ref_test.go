package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The naive references below are the direct loops each kernel must match,
// summed in float64.

// geomCases are odd shapes: stride 1 and 2, valid and same, windows larger
// than the stride, asymmetric 'same' padding, 1x1 windows, windows larger
// than the image.
var geomCases = []struct {
	n, h, w, c, kh, kw, sh, sw int
	same                       bool
}{
	{2, 7, 6, 3, 3, 3, 1, 1, false},
	{2, 7, 6, 3, 3, 3, 1, 1, true},
	{2, 7, 6, 3, 3, 3, 2, 2, false},
	{2, 7, 6, 3, 3, 3, 2, 2, true},
	{3, 5, 8, 2, 2, 3, 2, 1, true},
	{1, 9, 7, 1, 5, 4, 3, 2, true},
	{2, 4, 5, 17, 1, 1, 1, 1, false},
	{2, 6, 6, 4, 1, 1, 2, 2, true},
	{1, 2, 3, 5, 3, 3, 1, 1, true},
	{2, 8, 8, 19, 2, 2, 2, 2, false},
	{3, 11, 10, 33, 3, 3, 1, 1, true},
	// Windows wider than the image with 'same' padding: no output column
	// has its whole window inside (found by FuzzModelMetadata).
	{1, 8, 8, 2, 3, 41, 2, 2, true},
	{2, 3, 4, 3, 9, 11, 1, 3, true},
}

func (g Geom) String() string {
	return fmt.Sprintf("in(%d,%d,%d,%d) k%dx%d s%dx%d d%dx%d g%d m%d pad(t%d,b%d,l%d,r%d) out%dx%d",
		g.N, g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.G, g.M, g.PadT, g.PadB, g.PadL, g.PadR, g.OH, g.OW)
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// inAt returns in[n,ih,iw,c] or 0 in the padding, and whether it is inside.
func inAt(g Geom, in []float32, n, ih, iw, c int) (float32, bool) {
	if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
		return 0, false
	}
	return in[((n*g.H+ih)*g.W+iw)*g.C+c], true
}

// naiveConv is the direct 7-loop convolution: in (N,H,W,C), w
// (KH,KW,C/G,OC) with dilation (DH, DW) and G channel groups (output
// channel o reads the channels of group o/(OC/G)).
func naiveConv(g Geom, oc int, in, w []float32) []float64 {
	out := make([]float64, g.N*g.OH*g.OW*oc)
	dh, dw := g.Dilation()
	cg := g.C / g.Groups()
	for n := 0; n < g.N; n++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				for o := 0; o < oc; o++ {
					var s float64
					c0 := o / (oc / g.Groups()) * cg
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							for c := 0; c < cg; c++ {
								v, _ := inAt(g, in, n, oh*g.SH-g.PadT+kh*dh, ow*g.SW-g.PadL+kw*dw, c0+c)
								s += float64(v) * float64(w[((kh*g.KW+kw)*cg+c)*oc+o])
							}
						}
					}
					out[((n*g.OH+oh)*g.OW+ow)*oc+o] = s
				}
			}
		}
	}
	return out
}

// matmul is (m,k) x (k,n) in float64.
func matmul(a, b []float32, m, k, n int) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			av := float64(a[i*k+p])
			for j := 0; j < n; j++ {
				c[i*n+j] += av * float64(b[p*n+j])
			}
		}
	}
	return c
}

// naiveCol2im scatters col rows back onto the input positions they came
// from (col columns in order group, kh, kw, channel of the group).
func naiveCol2im(g Geom, col []float32) []float64 {
	d := make([]float64, g.InSize())
	K := g.ColCols()
	dh, dw := g.Dilation()
	cg := g.C / g.Groups()
	for n := 0; n < g.N; n++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				r := (n*g.OH+oh)*g.OW + ow
				for kh := 0; kh < g.KH; kh++ {
					for kw := 0; kw < g.KW; kw++ {
						ih, iw := oh*g.SH-g.PadT+kh*dh, ow*g.SW-g.PadL+kw*dw
						if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
							continue
						}
						for c := 0; c < g.C; c++ {
							gi, ci := c/cg, c%cg
							d[((n*g.H+ih)*g.W+iw)*g.C+c] += float64(col[r*K+gi*g.KH*g.KW*cg+(kh*g.KW+kw)*cg+ci])
						}
					}
				}
			}
		}
	}
	return d
}

// naiveDepthwise returns the forward output, and the input, weight and bias
// gradients for dOut, of a depthwise convolution with depth multiplier M
// and dilation (DH, DW): output channel oc = c*M+m reads input channel c.
func naiveDepthwise(g Geom, in, w, b, dOut []float32) (out, dIn, dW, dB []float64) {
	M := g.Multiplier()
	CM := g.C * M
	dh, dw := g.Dilation()
	out = make([]float64, g.N*g.OH*g.OW*CM)
	dIn = make([]float64, g.InSize())
	dW = make([]float64, g.KH*g.KW*CM)
	dB = make([]float64, CM)
	for n := 0; n < g.N; n++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				for oc := 0; oc < CM; oc++ {
					c := oc / M
					o := ((n*g.OH+oh)*g.OW+ow)*CM + oc
					s := float64(b[oc])
					dB[oc] += float64(dOut[o])
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							ih, iw := oh*g.SH-g.PadT+kh*dh, ow*g.SW-g.PadL+kw*dw
							v, ok := inAt(g, in, n, ih, iw, c)
							if !ok {
								continue
							}
							wi := (kh*g.KW+kw)*CM + oc
							s += float64(v) * float64(w[wi])
							dW[wi] += float64(v) * float64(dOut[o])
							dIn[((n*g.H+ih)*g.W+iw)*g.C+c] += float64(w[wi]) * float64(dOut[o])
						}
					}
					out[o] = s
				}
			}
		}
	}
	return out, dIn, dW, dB
}

// naivePool returns max and average pooling outputs and their input
// gradients for dOut.
func naivePool(g Geom, in, dOut []float32) (maxOut, avgOut, maxDIn, avgDIn []float64) {
	m := g.N * g.OH * g.OW * g.C
	maxOut, avgOut = make([]float64, m), make([]float64, m)
	maxDIn, avgDIn = make([]float64, g.InSize()), make([]float64, g.InSize())
	for n := 0; n < g.N; n++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				for c := 0; c < g.C; c++ {
					o := ((n*g.OH+oh)*g.OW+ow)*g.C + c
					best, bestAt, sum, cnt := math.Inf(-1), -1, 0.0, 0
					var cells []int
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							ih, iw := oh*g.SH-g.PadT+kh, ow*g.SW-g.PadL+kw
							v, ok := inAt(g, in, n, ih, iw, c)
							if !ok {
								continue
							}
							i := ((n*g.H+ih)*g.W+iw)*g.C + c
							cells = append(cells, i)
							if float64(v) > best {
								best, bestAt = float64(v), i
							}
							sum += float64(v)
							cnt++
						}
					}
					maxOut[o], avgOut[o] = best, sum/float64(cnt)
					maxDIn[bestAt] += float64(dOut[o])
					for _, i := range cells {
						avgDIn[i] += float64(dOut[o]) / float64(cnt)
					}
				}
			}
		}
	}
	return
}

// checkClose compares got against want with a relative-absolute tolerance.
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > tol*math.Max(1, math.Abs(w)) || math.IsNaN(float64(got[i])) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g", what, i, got[i], w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values wrong", what, bad, len(want))
	}
}

// guard is the sentinel placed after every output buffer to catch
// out-of-bounds writes.
const guard = float32(-12345.5)

// withGuard returns a buffer of n values (filled with NaN, so unwritten
// outputs show) followed by 16 guard values.
func withGuard(n int) []float32 {
	s := make([]float32, n+16)
	for i := range s[:n] {
		s[i] = float32(math.NaN())
	}
	for i := n; i < len(s); i++ {
		s[i] = guard
	}
	return s
}

func checkGuard(t *testing.T, what string, s []float32, n int) {
	t.Helper()
	for i := n; i < len(s); i++ {
		if s[i] != guard {
			t.Fatalf("%s: write past the end at %d", what, i)
		}
	}
}

// bitsEqual reports whether a and b are identical bit for bit.
func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
