package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
)

func TestDepthwise(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	cases := append(geomCases[:len(geomCases):len(geomCases)], struct {
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{37, 5, 4, 6, 3, 3, 1, 1, true}) // more images than weight chunks
	for _, tc := range cases {
		g := NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
		in := randSlice(r, g.InSize())
		w := randSlice(r, g.KH*g.KW*g.C)
		b := randSlice(r, g.C)
		nOut := g.N * g.OH * g.OW * g.C
		dOut := randSlice(r, nOut)
		wantOut, wantDIn, wantDW, wantDB := naiveDepthwise(g, in, w, b, dOut)

		out := withGuard(nOut)
		DepthwiseForward(g, in, w, b, out)
		checkGuard(t, "out", out, nOut)
		checkClose(t, "depthwise out "+g.String(), out, wantOut, 1e-5)
		// Without bias.
		DepthwiseForward(g, in, w, nil, out)
		for i := range wantOut {
			wantOut[i] -= float64(b[i%g.C])
		}
		checkClose(t, "depthwise out (no bias) "+g.String(), out, wantOut, 1e-5)

		dIn := withGuard(g.InSize())
		DepthwiseBackwardInput(g, dOut, w, dIn)
		checkGuard(t, "dIn", dIn, g.InSize())
		checkClose(t, "depthwise dIn "+g.String(), dIn, wantDIn, 1e-5)

		dW, dB := withGuard(len(w)), withGuard(g.C)
		scratch := withGuard(DepthwiseScratchSize(g))
		DepthwiseBackwardWeights(g, in, dOut, dW, dB, scratch)
		checkGuard(t, "dW", dW, len(w))
		checkGuard(t, "dB", dB, g.C)
		checkGuard(t, "scratch", scratch, DepthwiseScratchSize(g))
		checkClose(t, "depthwise dW "+g.String(), dW, wantDW, 1e-4)
		checkClose(t, "depthwise dB "+g.String(), dB, wantDB, 1e-4)
		DepthwiseBackwardWeights(g, in, dOut, dW, nil, scratch)
		checkClose(t, "depthwise dW (no bias) "+g.String(), dW, wantDW, 1e-4)
		checkGuard(t, "dB", dB, g.C)
	}
}

func TestDepthwiseThreads(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(7, 1))
	g := NewGeom(21, 9, 8, 24, 3, 3, 2, 2, true)
	in := randSlice(r, g.InSize())
	w := randSlice(r, g.KH*g.KW*g.C)
	b := randSlice(r, g.C)
	dOut := randSlice(r, g.N*g.OH*g.OW*g.C)
	var res [2][]float32
	for i, th := range []int{1, 2} {
		kernels.SetThreads(th)
		out := make([]float32, len(dOut))
		dIn := make([]float32, g.InSize())
		dW, dB := make([]float32, len(w)), make([]float32, g.C)
		DepthwiseForward(g, in, w, b, out)
		DepthwiseBackwardInput(g, dOut, w, dIn)
		DepthwiseBackwardWeights(g, in, dOut, dW, dB, make([]float32, DepthwiseScratchSize(g)))
		res[i] = append(append(append(out, dIn...), dW...), dB...)
	}
	if !bitsEqual(res[0], res[1]) {
		t.Fatal("depthwise results depend on the thread count")
	}
}
