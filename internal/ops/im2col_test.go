package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
)

func TestSamePadding(t *testing.T) {
	for _, tc := range []struct{ in, k, s, lo, hi int }{
		{7, 3, 1, 1, 1}, {7, 3, 2, 1, 1}, {6, 3, 2, 0, 1}, {5, 2, 2, 0, 1},
		{4, 1, 1, 0, 0}, {9, 5, 3, 1, 1}, {5, 4, 2, 1, 2}, {2, 3, 1, 1, 1}, {8, 2, 2, 0, 0},
	} {
		lo, hi := SamePadding(tc.in, tc.k, tc.s)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("SamePadding(%d,%d,%d) = %d,%d, want %d,%d", tc.in, tc.k, tc.s, lo, hi, tc.lo, tc.hi)
		}
		if g := NewGeom(1, tc.in, 1, 1, tc.k, 1, tc.s, 1, true); g.OH != (tc.in+tc.s-1)/tc.s {
			t.Errorf("same OH %d for in %d stride %d", g.OH, tc.in, tc.s)
		}
	}
}

// TestIm2colConv checks im2col followed by a GEMM against the direct
// 7-loop convolution.
func TestIm2colConv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range geomCases {
		g := NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
		const oc = 5
		in := randSlice(r, g.InSize())
		w := randSlice(r, g.ColCols()*oc)
		col := withGuard(g.ColRows() * g.ColCols())
		Im2col(g, in, col, 0, g.N)
		checkGuard(t, g.String(), col, g.ColRows()*g.ColCols())
		got := make([]float32, g.ColRows()*oc)
		for i, v := range matmul(col, w, g.ColRows(), g.ColCols(), oc) {
			got[i] = float32(v)
		}
		checkClose(t, "conv "+g.String(), got, naiveConv(g, oc, in, w), 1e-5)
		if g.IsPointwise() {
			// The input is its own col matrix.
			if !bitsEqual(col[:len(in)], in) {
				t.Errorf("%v: pointwise col differs from the input", g)
			}
		}
	}
}

// TestIm2colSubrange checks that the rows of images [n0, n1) equal the same
// rows of the whole batch's matrix.
func TestIm2colSubrange(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	g := NewGeom(5, 7, 6, 3, 3, 3, 2, 1, true)
	in := randSlice(r, g.InSize())
	full := make([]float32, g.ColRows()*g.ColCols())
	Im2col(g, in, full, 0, g.N)
	per := g.OutPixels() * g.ColCols()
	part := withGuard(2 * per)
	Im2col(g, in, part, 2, 4)
	checkGuard(t, "part", part, 2*per)
	if !bitsEqual(part[:2*per], full[2*per:4*per]) {
		t.Fatal("Im2col of images [2,4) differs from the full matrix")
	}
	// Col2im of a subrange writes only those images.
	dIn := withGuard(g.InSize())
	Col2im(g, part, dIn, 2, 4)
	inPer := g.H * g.W * g.C
	want := make([]float32, g.InSize())
	Col2im(g, full, want, 0, g.N)
	if !bitsEqual(dIn[2*inPer:4*inPer], want[2*inPer:4*inPer]) {
		t.Error("Col2im of images [2,4) differs from the full result")
	}
	for i, v := range dIn[:2*inPer] {
		if v == v { // not NaN: written
			t.Fatalf("Col2im of images [2,4) wrote image 0/1 at %d", i)
		}
	}
	checkGuard(t, "dIn", dIn, g.InSize())
}

func TestCol2im(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	for _, tc := range geomCases {
		g := NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
		col := randSlice(r, g.ColRows()*g.ColCols())
		dIn := withGuard(g.InSize())
		Col2im(g, col, dIn, 0, g.N)
		checkGuard(t, g.String(), dIn, g.InSize())
		checkClose(t, "col2im "+g.String(), dIn, naiveCol2im(g, col), 1e-5)
	}
}

// TestIm2colThreads checks that Im2col and Col2im give bit-identical
// results for 1 and 3 threads.
func TestIm2colThreads(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(4, 1))
	g := NewGeom(4, 11, 10, 33, 3, 3, 2, 1, true)
	in := randSlice(r, g.InSize())
	dcol := randSlice(r, g.ColRows()*g.ColCols())
	var cols, dIns [2][]float32
	for i, th := range []int{1, 3} {
		kernels.SetThreads(th)
		cols[i] = make([]float32, g.ColRows()*g.ColCols())
		Im2col(g, in, cols[i], 0, g.N)
		dIns[i] = make([]float32, g.InSize())
		Col2im(g, dcol, dIns[i], 0, g.N)
	}
	if !bitsEqual(cols[0], cols[1]) || !bitsEqual(dIns[0], dIns[1]) {
		t.Fatal("results depend on the thread count")
	}
}

func TestBias(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	for _, sz := range [][2]int{{3, 5}, {1000, 64}, {777, 33}, {40000, 3}} {
		rows, cols := sz[0], sz[1]
		x := randSlice(r, rows*cols)
		b := randSlice(r, cols)
		want := make([]float64, rows*cols)
		sums := make([]float64, cols)
		for i := range want {
			want[i] = float64(x[i]) + float64(b[i%cols])
			sums[i%cols] += float64(x[i])
		}
		dB := withGuard(cols)
		scratch := withGuard(BiasGradScratchSize(rows, cols))
		BiasGrad(x, rows, cols, dB, scratch)
		checkGuard(t, "dB", dB, cols)
		checkGuard(t, "scratch", scratch, BiasGradScratchSize(rows, cols))
		checkClose(t, "BiasGrad", dB, sums, 1e-4)
		BiasAdd(x, rows, cols, b)
		checkClose(t, "BiasAdd", x, want, 1e-6)
	}
}

// TestCol2imTapOrder pins Col2im's summation order: each element is the
// float32 sum of its taps in (kh, kw) order, starting from 0.
func TestCol2imTapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 2))
	for _, tc := range geomCases {
		g := NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
		col := randSlice(r, g.ColRows()*g.ColCols())
		dIn := make([]float32, g.InSize())
		Col2im(g, col, dIn, 0, g.N)
		K := g.ColCols()
		for n := 0; n < g.N; n++ {
			for ih := 0; ih < g.H; ih++ {
				for iw := 0; iw < g.W; iw++ {
					for c := 0; c < g.C; c++ {
						var s float32
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								nh, nw := ih+g.PadT-kh, iw+g.PadL-kw
								if nh < 0 || nw < 0 || nh%g.SH != 0 || nw%g.SW != 0 || nh/g.SH >= g.OH || nw/g.SW >= g.OW {
									continue
								}
								row := (n*g.OH+nh/g.SH)*g.OW + nw/g.SW
								s += col[row*K+(kh*g.KW+kw)*g.C+c]
							}
						}
						got := dIn[((n*g.H+ih)*g.W+iw)*g.C+c]
						if math.Float32bits(got) != math.Float32bits(s) {
							t.Fatalf("%s: dIn[%d,%d,%d,%d] = %v, taps in (kh, kw) order sum to %v", g, n, ih, iw, c, got, s)
						}
					}
				}
			}
		}
	}
}

// TestIm2colStream checks that Im2colStream (streaming stores for runs of
// 16 channels and more) writes the values of Im2col, bit for bit, on every
// geometry of the tests plus wide-channel ones, into aligned and unaligned
// buffers.
func TestIm2colStream(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 1))
	cases := append(geomCases[:len(geomCases):len(geomCases)], struct {
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 6, 6, 32, 3, 3, 1, 1, false}, struct {
		n, h, w, c, kh, kw, sh, sw int
		same                       bool
	}{2, 7, 6, 16, 3, 3, 2, 1, true})
	for _, tc := range cases {
		g := NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
		in := randSlice(r, g.InSize())
		n := g.ColRows() * g.ColCols()
		for _, shift := range []int{0, 1} {
			want := withGuard(n + shift)
			got := withGuard(n + shift)
			Im2col(g, in, want[shift:], 0, g.N)
			Im2colStream(g, in, got[shift:], 0, g.N)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v shift %d: col[%d] = %v, want %v", g, shift, i, got[i], want[i])
				}
			}
		}
	}
}

// TestSerialVariants checks that Im2colSerial, Col2imSerial and
// BiasAddSerial, which a caller runs inside its own parallel loop, give the
// bits of Im2col, Col2im and BiasAdd, on sub-ranges of images, without
// writing outside their range.
func TestSerialVariants(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(2)
	r := rand.New(rand.NewPCG(8, 3))
	for _, gc := range geomCases {
		g := NewGeom(gc.n+2, gc.h, gc.w, gc.c, gc.kh, gc.kw, gc.sh, gc.sw, gc.same)
		in := randSlice(r, g.InSize())
		n0, n1 := 1, g.N-1
		size := (n1 - n0) * g.OutPixels() * g.ColCols()
		want, got := make([]float32, size), withGuard(size)
		Im2col(g, in, want, n0, n1)
		Im2colSerial(g, in, got, n0, n1)
		checkGuard(t, g.String()+" Im2colSerial", got, size)
		if !bitsEqual(want, got[:size]) {
			t.Fatalf("%v: Im2colSerial differs from Im2col", g)
		}
		dcol := randSlice(r, size)
		wantIn, gotIn := randSlice(r, g.InSize()), make([]float32, g.InSize())
		copy(gotIn, wantIn)
		Col2im(g, dcol, wantIn, n0, n1)
		Col2imSerial(g, dcol, gotIn, n0, n1)
		if !bitsEqual(wantIn, gotIn) {
			t.Fatalf("%v: Col2imSerial differs from Col2im (or wrote outside its images)", g)
		}
		rows := g.N * g.OutPixels()
		x := randSlice(r, rows*gc.c)
		b := randSlice(r, gc.c)
		y := append([]float32(nil), x...)
		BiasAdd(x, rows, gc.c, b)
		BiasAddSerial(y, rows, gc.c, b)
		if !bitsEqual(x, y) {
			t.Fatalf("%v: BiasAddSerial differs from BiasAdd", g)
		}
	}
}
