package ops

import (
	"math/rand/v2"
	"testing"
)

func TestPool(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	cases := append(geomCases[:len(geomCases):len(geomCases)], struct {
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 7, 7, 3, 3, 3, 2, 2, true}, struct {
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 5, 6, 2, 2, 2, 1, 1, false}, struct {
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 6, 5, 37, 2, 2, 2, 2, false}, struct { // SIMD blocks and a tail
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 7, 7, 20, 3, 3, 2, 2, true}, struct { // tiled, a row and a column past the windows
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 7, 5, 18, 2, 2, 2, 2, false}, struct { // tiled, 'same' padding
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{1, 7, 8, 17, 3, 3, 3, 3, true})
	for _, tc := range cases {
		g := NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
		in := randSlice(r, g.InSize()) // continuous: no ties
		nOut := g.N * g.OH * g.OW * g.C
		dOut := randSlice(r, nOut)
		wantMax, wantAvg, wantMaxD, wantAvgD := naivePool(g, in, dOut)

		out := withGuard(nOut)
		arg := make([]int32, nOut+1)
		arg[nOut] = -7
		MaxPoolForward(g, in, out, arg)
		checkGuard(t, "max out", out, nOut)
		if arg[nOut] != -7 {
			t.Fatal("max pool wrote past arg")
		}
		checkClose(t, "max "+g.String(), out, wantMax, 0)
		dIn := withGuard(g.InSize())
		MaxPoolBackward(g, dOut, arg, dIn)
		checkGuard(t, "max dIn", dIn, g.InSize())
		checkClose(t, "max dIn "+g.String(), dIn, wantMaxD, 1e-6)

		AvgPoolForward(g, in, out)
		checkGuard(t, "avg out", out, nOut)
		checkClose(t, "avg "+g.String(), out, wantAvg, 1e-5)
		AvgPoolBackward(g, dOut, dIn)
		checkGuard(t, "avg dIn", dIn, g.InSize())
		checkClose(t, "avg dIn "+g.String(), dIn, wantAvgD, 1e-5)
	}
}

// TestMaxPoolTies checks that the first cell in window order wins a tie.
func TestMaxPoolTies(t *testing.T) {
	g := NewGeom(1, 2, 2, 1, 2, 2, 2, 2, false)
	in := []float32{1, 3, 3, 2}
	out, arg := make([]float32, 1), make([]int32, 1)
	MaxPoolForward(g, in, out, arg)
	if out[0] != 3 || arg[0] != 1 {
		t.Fatalf("max %v at %d, want 3 at 1", out[0], arg[0])
	}
}

func TestGlobalAvgPool(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	n, hw, c := 3, 35, 7
	in := randSlice(r, n*hw*c)
	dOut := randSlice(r, n*c)
	want := make([]float64, n*c)
	wantD := make([]float64, n*hw*c)
	for i := 0; i < n; i++ {
		for p := 0; p < hw; p++ {
			for j := 0; j < c; j++ {
				want[i*c+j] += float64(in[(i*hw+p)*c+j]) / float64(hw)
				wantD[(i*hw+p)*c+j] = float64(dOut[i*c+j]) / float64(hw)
			}
		}
	}
	out := withGuard(n * c)
	GlobalAvgPoolForward(n, hw, c, in, out)
	checkGuard(t, "out", out, n*c)
	checkClose(t, "gap", out, want, 1e-5)
	dIn := withGuard(n * hw * c)
	GlobalAvgPoolBackward(n, hw, c, dOut, dIn)
	checkGuard(t, "dIn", dIn, n*hw*c)
	checkClose(t, "gap dIn", dIn, wantD, 1e-6)
}

func TestZeroPad(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 1))
	for _, p := range [][4]int{{1, 2, 0, 3}, {0, 0, 0, 0}, {2, 1, 1, 1}} {
		n, h, w, c := 2, 3, 4, 5
		tp, bp, lp, rp := p[0], p[1], p[2], p[3]
		oh, ow := h+tp+bp, w+lp+rp
		in := randSlice(r, n*h*w*c)
		want := make([]float64, n*oh*ow*c)
		for i := 0; i < n; i++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					for j := 0; j < c; j++ {
						want[((i*oh+y+tp)*ow+x+lp)*c+j] = float64(in[((i*h+y)*w+x)*c+j])
					}
				}
			}
		}
		out := withGuard(len(want))
		ZeroPadForward(n, h, w, c, tp, bp, lp, rp, in, out)
		checkGuard(t, "out", out, len(want))
		checkClose(t, "pad", out, want, 0)
		// The backward of padding is cropping: crop(pad(x)) == x.
		dIn := withGuard(len(in))
		ZeroPadBackward(n, h, w, c, tp, bp, lp, rp, out, dIn)
		checkGuard(t, "dIn", dIn, len(in))
		if !bitsEqual(dIn[:len(in)], in) {
			t.Errorf("pad %v: crop(pad(x)) != x", p)
		}
	}
}

// TestMaxPoolImage checks that MaxPoolImage and MaxPoolBackwardImage, one
// image at a time, give the bits of MaxPoolForward and MaxPoolBackward
// (the fused BN + max-pool passes rely on it) on tiling windows, with odd
// sizes whose last rows and columns no window covers and "same" padding.
func TestMaxPoolImage(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 4))
	for _, gc := range []struct {
		h, w, c, k int
		same       bool
	}{{9, 7, 19, 2, false}, {9, 7, 5, 2, true}, {10, 11, 33, 3, false}, {6, 6, 16, 2, false}} {
		g := NewGeom(3, gc.h, gc.w, gc.c, gc.k, gc.k, gc.k, gc.k, gc.same)
		if !MaxPoolTiles(g) {
			t.Fatalf("%v: windows do not tile", g)
		}
		in := randSlice(r, g.InSize())
		outPer, inPer := g.OH*g.OW*g.C, g.H*g.W*g.C
		want, arg := make([]float32, g.N*outPer), make([]int32, g.N*outPer)
		MaxPoolForward(g, in, want, arg)
		dOut := randSlice(r, g.N*outPer)
		wantIn := make([]float32, g.InSize())
		MaxPoolBackward(g, dOut, arg, wantIn)
		for n := 0; n < g.N; n++ {
			got, gotArg := withGuard(outPer), make([]int32, outPer)
			MaxPoolImage(g, in[n*inPer:(n+1)*inPer], got, gotArg)
			checkGuard(t, g.String()+" MaxPoolImage", got, outPer)
			if !bitsEqual(got[:outPer], want[n*outPer:(n+1)*outPer]) {
				t.Fatalf("%v image %d: MaxPoolImage differs from MaxPoolForward", g, n)
			}
			for i, a := range gotArg {
				if a != arg[n*outPer+i] {
					t.Fatalf("%v image %d: arg-max %d is %d, want %d", g, n, i, a, arg[n*outPer+i])
				}
			}
			gotIn := withGuard(inPer) // NaN: every cell must be written
			MaxPoolBackwardImage(g, dOut[n*outPer:(n+1)*outPer], gotArg, gotIn)
			checkGuard(t, g.String()+" MaxPoolBackwardImage", gotIn, inPer)
			if !bitsEqual(gotIn[:inPer], wantIn[n*inPer:(n+1)*inPer]) {
				t.Fatalf("%v image %d: MaxPoolBackwardImage differs from MaxPoolBackward", g, n)
			}
		}
	}
	if MaxPoolTiles(NewGeom(1, 8, 8, 4, 2, 2, 1, 1, false)) {
		t.Error("overlapping 2x2 windows of stride 1 reported as tiling")
	}
}
