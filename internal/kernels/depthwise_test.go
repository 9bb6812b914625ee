package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// dwRef is the specification of DepthwiseRows: every output value from
// the bias, taps in (kh, kw) order, each product rounded, the taps outside
// the image skipped.
func dwRef(g DWGeom, in, w, b, out []float32, r0, r1 int) {
	C := g.C
	for r := r0; r < r1; r++ {
		n, oh := r/g.OH, r%g.OH
		for ow := 0; ow < g.OW; ow++ {
			for c := 0; c < C; c++ {
				var acc float32
				if b != nil {
					acc = b[c]
				}
				for kh := 0; kh < g.KH; kh++ {
					ih := oh*g.SH - g.PadT + kh
					if ih < 0 || ih >= g.H {
						continue
					}
					for kw := 0; kw < g.KW; kw++ {
						iw := ow*g.SW - g.PadL + kw
						if iw < 0 || iw >= g.W {
							continue
						}
						acc += float32(in[((n*g.H+ih)*g.W+iw)*C+c] * w[(kh*g.KW+kw)*C+c])
					}
				}
				out[(r*g.OW+ow)*C+c] = acc
			}
		}
	}
}

// dwCase is a geometry with n images; the output size follows from the
// padding after (PadB, PadR), as ops.NewGeomPadded computes it.
func dwCase(n, h, w, c, kh, kw, sh, sw, pt, pb, pl, pr int) (DWGeom, int) {
	return DWGeom{H: h, W: w, C: c, KH: kh, KW: kw, SH: sh, SW: sw, PadT: pt, PadL: pl,
		OH: (h+pt+pb-kh)/sh + 1, OW: (w+pl+pr-kw)/sw + 1}, n
}

// TestDepthwiseRowsPaths runs every supported path on odd shapes (channel
// counts around multiples of 16, strides 1 to 3, padding on any side,
// paddings wider than the window, 1-pixel images) with and without bias,
// over all the rows and over a middle range, and checks the output bit for
// bit against dwRef, the values outside the rows computed untouched.
func TestDepthwiseRowsPaths(t *testing.T) {
	type tc struct {
		g DWGeom
		n int
	}
	var cases []tc
	add := func(g DWGeom, n int) { cases = append(cases, tc{g, n}) }
	for _, c := range []int{1, 3, 15, 16, 17, 33, 48} {
		add(dwCase(2, 7, 9, c, 3, 3, 1, 1, 1, 1, 1, 1))  // 'same' stride 1
		add(dwCase(1, 8, 10, c, 3, 3, 2, 2, 0, 1, 0, 1)) // TF 'same' stride 2, even size
		add(dwCase(2, 9, 11, c, 3, 3, 2, 2, 1, 1, 1, 1)) // stride 2, odd size
		add(dwCase(1, 6, 13, c, 3, 3, 1, 1, 0, 0, 0, 0)) // 'valid'
		add(dwCase(1, 5, 23, c, 5, 5, 1, 1, 2, 2, 2, 2)) // 5x5
		add(dwCase(1, 5, 21, c, 5, 5, 2, 2, 1, 2, 1, 2)) // 5x5 stride 2
		add(dwCase(2, 4, 6, c, 2, 3, 3, 2, 1, 0, 2, 1))  // uneven window and strides
		add(dwCase(1, 1, 1, c, 3, 3, 1, 1, 1, 1, 1, 1))  // one pixel
		add(dwCase(1, 3, 4, c, 1, 1, 1, 1, 0, 0, 0, 0))  // 1x1
		add(dwCase(1, 3, 5, c, 3, 3, 1, 1, 4, 4, 4, 4))  // padding wider than the window
		add(dwCase(1, 2, 40, c, 3, 3, 1, 1, 1, 1, 1, 1)) // long rows: blocks of 8, 4, 1
		add(dwCase(1, 3, 2, c, 3, 5, 1, 1, 1, 1, 2, 2))  // window wider than the image
	}
	r := rand.New(rand.NewPCG(4, 9))
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := Generic
		if p == AVX512 {
			want = AVX512
		}
		before := dwCalls[want].Load()
		for _, c := range cases {
			g, n := c.g, c.n
			in := bnMatrix(r, n*g.H*g.W, g.C, 0)[:n*g.H*g.W*g.C]
			w := bnVec32(r, g.KH*g.KW*g.C)
			for _, bias := range []bool{true, false} {
				var b []float32
				if bias {
					b = bnVec32(r, g.C)
				}
				rows := n * g.OH
				for _, rr := range [][2]int{{0, rows}, {rows / 3, rows - rows/3}} {
					r0, r1 := rr[0], rr[1]
					size := rows * g.OW * g.C
					got := make([]float32, size+bnGuardLen)
					ref := make([]float32, size+bnGuardLen)
					for i := range got {
						got[i], ref[i] = bnGuard, bnGuard
					}
					DepthwiseRows(g, in, w, b, got, r0, r1)
					dwRef(g, in, w, b, ref, r0, r1)
					if i, ok := sameBits32(got, ref); !ok {
						t.Fatalf("%v: %+v n=%d bias=%v rows [%d,%d): out[%d] = %v, want %v", p, g, n, bias, r0, r1, i, got[i], ref[i])
					}
				}
			}
		}
		if dwCalls[want].Load() == before {
			t.Errorf("DepthwiseRows with SetPath(%v) did not run the %v code", p, want)
		}
		restore()
	}
	if want := cpuPaths(); want[len(want)-1] == AVX512 && dwCalls[AVX512].Load() == 0 {
		t.Error("the CPU supports AVX-512 but the AVX-512 depthwise kernel never ran")
	}
}

// TestDepthwiseRowsChecks checks that bad geometries and short slices
// panic (programming errors) instead of reading out of bounds.
func TestDepthwiseRowsChecks(t *testing.T) {
	g, _ := dwCase(1, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1)
	in := make([]float32, 4*4*3)
	w := make([]float32, 27)
	out := make([]float32, 4*4*3)
	for name, f := range map[string]func(){
		"short input":  func() { DepthwiseRows(g, in[:10], w, nil, out, 0, 4) },
		"short kernel": func() { DepthwiseRows(g, in, w[:26], nil, out, 0, 4) },
		"short bias":   func() { DepthwiseRows(g, in, w, w[:2], out, 0, 4) },
		"short output": func() { DepthwiseRows(g, in, w, nil, out[:47], 0, 4) },
		"bad rows":     func() { DepthwiseRows(g, in, w, nil, out, 3, 2) },
		"zero stride":  func() { h := g; h.SW = 0; DepthwiseRows(h, in, w, nil, out, 0, 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkDepthwiseRows(b *testing.B) {
	for _, s := range []struct{ h, c, st int }{{112, 96, 2}, {56, 144, 1}, {14, 576, 1}, {7, 960, 1}} {
		pad := 1
		g, _ := dwCase(1, s.h, s.h, s.c, 3, 3, s.st, s.st, pad, pad, pad, pad)
		in := make([]float32, g.H*g.W*g.C)
		w := make([]float32, 9*g.C)
		out := make([]float32, g.OH*g.OW*g.C)
		for _, p := range SupportedPaths() {
			b.Run(fmt.Sprintf("%dx%dx%d_s%d/%v", s.h, s.h, s.c, s.st, p), func(b *testing.B) {
				defer SetPath(p)()
				b.SetBytes(int64(4 * (len(in) + len(out))))
				for b.Loop() {
					DepthwiseRows(g, in, w, nil, out, 0, g.OH)
				}
			})
		}
	}
}
