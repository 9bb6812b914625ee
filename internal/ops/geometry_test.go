package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
)

// generalCase is a geometry that is not plain: dilation, channel groups or
// a depth multiplier (groups and multiplier apply to im2col and depthwise
// respectively; the other is left at 1).
type generalCase struct {
	n, h, w, c, kh, kw, sh, sw, dh, dw, groups, mult int
	same                                             bool
}

var generalCases = []generalCase{
	{2, 9, 8, 3, 3, 3, 1, 1, 2, 2, 1, 2, true},
	{2, 9, 8, 3, 3, 3, 1, 1, 2, 2, 1, 1, false},
	{1, 11, 7, 4, 3, 2, 1, 1, 3, 2, 2, 3, true},
	{2, 7, 6, 6, 3, 3, 2, 2, 1, 1, 3, 2, true},
	{3, 6, 5, 8, 2, 3, 1, 2, 1, 1, 4, 1, false},
	{2, 5, 7, 10, 1, 1, 1, 1, 1, 1, 5, 4, false},
	{2, 8, 9, 12, 3, 3, 1, 1, 2, 1, 4, 1, true},
	{1, 10, 10, 33, 3, 3, 1, 1, 2, 3, 1, 2, true},
	{2, 4, 4, 2, 3, 3, 1, 1, 3, 3, 2, 2, true}, // the dilated window is wider than the image
}

// geom returns the case's geometry with groups (im2col) or multiplier
// (depthwise).
func (tc generalCase) geom(depthwise bool) Geom {
	g := NewGeomDilated(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.same)
	if depthwise {
		g.M = tc.mult
	} else {
		g.G = tc.groups
	}
	return g
}

func TestNewGeomDilated(t *testing.T) {
	g := NewGeomDilated(1, 9, 8, 1, 3, 3, 1, 1, 2, 3, true)
	if g.OH != 9 || g.OW != 8 || g.PadT != 2 || g.PadB != 2 || g.PadL != 3 || g.PadR != 3 {
		t.Errorf("same, dilation 2x3: %v", g)
	}
	g = NewGeomDilated(1, 9, 8, 1, 3, 3, 1, 1, 2, 3, false)
	if g.OH != 5 || g.OW != 2 || g.PadT != 0 || g.PadL != 0 {
		t.Errorf("valid, dilation 2x3: %v", g)
	}
	if p := NewGeomDilated(2, 7, 6, 3, 3, 3, 2, 1, 1, 1, true); p != NewGeom(2, 7, 6, 3, 3, 3, 2, 1, true).withDilation(1, 1) || !p.Plain() {
		t.Errorf("dilation 1: %v", p)
	}
	if DilatedSize(3, 0) != 3 || DilatedSize(3, 4) != 9 || DilatedSize(1, 5) != 1 {
		t.Error("DilatedSize")
	}
}

// withDilation returns g with the dilation fields set (for comparisons).
func (g Geom) withDilation(dh, dw int) Geom {
	g.DH, g.DW = dh, dw
	return g
}

// convGroups multiplies col by the grouped kernel w (KH,KW,C/G,OC) one
// group at a time, as Conv2D does: out[:, g*OCg:] = col[:, g*Kg:] x w[:, g*OCg:].
func convGroups(g Geom, col, w []float32, oc int) []float32 {
	G := g.Groups()
	K, kg, ocg, rows := g.ColCols(), g.ColCols()/G, oc/G, g.ColRows()
	out := make([]float32, rows*oc)
	for gi := 0; gi < G; gi++ {
		kernels.SgemmRef(false, false, rows, ocg, kg, 1, col[gi*kg:], K, w[gi*ocg:], oc, 0, out[gi*ocg:], oc)
	}
	return out
}

// TestIm2colGeneral checks im2col with dilation and groups, followed by
// one product per group, against the direct convolution; col2im against
// the naive scatter; subranges, the serial and streaming variants and the
// thread count against the whole-batch result.
func TestIm2colGeneral(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(21, 1))
	for _, tc := range generalCases {
		g := tc.geom(false)
		oc := 3 * g.Groups()
		in := randSlice(r, g.InSize())
		w := randSlice(r, g.ColCols()/g.Groups()*oc)
		n := g.ColRows() * g.ColCols()
		col := withGuard(n)
		Im2col(g, in, col, 0, g.N)
		checkGuard(t, g.String(), col, n)
		checkClose(t, "conv "+g.String(), convGroups(g, col, w, oc), naiveConv(g, oc, in, w), 1e-5)
		if g.IsPointwise() && !bitsEqual(col[:len(in)], in) {
			t.Errorf("%v: pointwise col differs from the input", g)
		}
		for _, f := range []func(Geom, []float32, []float32, int, int){Im2colSerial, Im2colStream} {
			c2 := withGuard(n)
			f(g, in, c2, 0, g.N)
			checkGuard(t, g.String(), c2, n)
			if !bitsEqual(c2[:n], col[:n]) {
				t.Errorf("%v: serial or streaming im2col differs", g)
			}
		}
		per := g.OutPixels() * g.ColCols()
		if g.N > 1 {
			part := withGuard(per)
			Im2col(g, in, part, 1, 2)
			checkGuard(t, "part", part, per)
			if !bitsEqual(part[:per], col[per:2*per]) {
				t.Errorf("%v: im2col of image 1 differs", g)
			}
		}

		dcol := randSlice(r, n)
		want := naiveCol2im(g, dcol)
		var prev []float32
		for _, th := range []int{1, 3} {
			kernels.SetThreads(th)
			dIn := withGuard(g.InSize())
			Col2im(g, dcol, dIn, 0, g.N)
			checkGuard(t, g.String(), dIn, g.InSize())
			checkClose(t, "col2im "+g.String(), dIn, want, 1e-5)
			serial := withGuard(g.InSize())
			Col2imSerial(g, dcol, serial, 0, g.N)
			if !bitsEqual(serial[:g.InSize()], dIn[:g.InSize()]) {
				t.Errorf("%v: Col2imSerial differs", g)
			}
			if prev != nil && !bitsEqual(prev, dIn) {
				t.Errorf("%v: col2im depends on the thread count", g)
			}
			prev = dIn
		}
	}
}

// TestDepthwiseGeneral checks the depthwise convolution with a depth
// multiplier and dilation against the naive loops, and that the results
// do not depend on the thread count.
func TestDepthwiseGeneral(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(22, 1))
	cases := append(generalCases[:len(generalCases):len(generalCases)],
		generalCase{19, 5, 4, 3, 3, 3, 2, 2, 1, 1, 1, 2, true}) // more images than weight chunks, stride 2
	for _, tc := range cases {
		g := tc.geom(true)
		cm := g.C * g.Multiplier()
		in := randSlice(r, g.InSize())
		w := randSlice(r, g.KH*g.KW*cm)
		b := randSlice(r, cm)
		nOut := g.N * g.OH * g.OW * cm
		dOut := randSlice(r, nOut)
		wantOut, wantDIn, wantDW, wantDB := naiveDepthwise(g, in, w, b, dOut)
		var prev []float32
		for _, th := range []int{1, 2} {
			kernels.SetThreads(th)
			out := withGuard(nOut)
			DepthwiseForward(g, in, w, b, out)
			checkGuard(t, "out", out, nOut)
			checkClose(t, "depthwise out "+g.String(), out, wantOut, 1e-5)
			dIn := withGuard(g.InSize())
			DepthwiseBackwardInput(g, dOut, w, dIn)
			checkGuard(t, "dIn", dIn, g.InSize())
			checkClose(t, "depthwise dIn "+g.String(), dIn, wantDIn, 1e-5)
			dW, dB := withGuard(len(w)), withGuard(cm)
			scratch := withGuard(DepthwiseScratchSize(g))
			DepthwiseBackwardWeights(g, in, dOut, dW, dB, scratch)
			checkGuard(t, "dW", dW, len(w))
			checkGuard(t, "dB", dB, cm)
			checkGuard(t, "scratch", scratch, DepthwiseScratchSize(g))
			checkClose(t, "depthwise dW "+g.String(), dW, wantDW, 1e-4)
			checkClose(t, "depthwise dB "+g.String(), dB, wantDB, 1e-4)
			all := append(append(append(out[:nOut:nOut], dIn[:g.InSize()]...), dW[:len(w)]...), dB[:cm]...)
			if prev != nil && !bitsEqual(prev, all) {
				t.Errorf("%v: depthwise results depend on the thread count", g)
			}
			prev = all
		}
		// Without bias.
		out := withGuard(nOut)
		DepthwiseForward(g, in, w, nil, out)
		for i := range wantOut {
			wantOut[i] -= float64(b[i%cm])
		}
		checkClose(t, "depthwise out (no bias) "+g.String(), out, wantOut, 1e-5)
	}
}
