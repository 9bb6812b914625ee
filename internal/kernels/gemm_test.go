package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Guard values: C is laid out with padding columns (ldc > n) and guard
// zones before and after it, all filled with guardC, which must survive
// every call unchanged. The padding columns of A and B hold NaN: a kernel
// that read them would turn the result into NaN.
var guardC = math.Float32frombits(0x7fc0beef) // a NaN with a payload

const guardLen = 67 // guard zone before and after C, in floats

// gemmCase is one Sgemm call of the correctness tests.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	nanC           bool // fill C with NaN first (only with beta == 0)
	padA, padB     int  // extra columns in the storage of A, B
	padC           int  // extra columns in the storage of C
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g nanC=%v pads=%d,%d,%d",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.nanC, tc.padA, tc.padB, tc.padC)
}

// gemmData is the operands of a case, stored as the case says.
type gemmData struct {
	a, b, c       []float32 // c includes the guard zones
	lda, ldb, ldc int
}

func newGemmData(tc gemmCase, r *rand.Rand) gemmData {
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	d := gemmData{lda: ac + tc.padA, ldb: bc + tc.padB, ldc: tc.n + tc.padC}
	d.a = fillMatrix(ar, ac, d.lda, r)
	d.b = fillMatrix(br, bc, d.ldb, r)
	d.c = make([]float32, guardLen+tc.m*d.ldc+guardLen)
	for i := range d.c {
		d.c[i] = guardC
	}
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			v := float32(r.NormFloat64())
			if tc.nanC {
				v = float32(math.NaN())
			}
			d.c[guardLen+i*d.ldc+j] = v
		}
	}
	return d
}

// fillMatrix returns rows x cols random values with row stride ld and NaN
// in the padding columns.
func fillMatrix(rows, cols, ld int, r *rand.Rand) []float32 {
	s := make([]float32, rows*ld)
	for i := 0; i < rows; i++ {
		for j := 0; j < ld; j++ {
			if j < cols {
				s[i*ld+j] = float32(r.NormFloat64())
			} else {
				s[i*ld+j] = float32(math.NaN())
			}
		}
	}
	return s
}

// cview is the m x n matrix C inside the guarded buffer.
func (d gemmData) cview() []float32 { return d.c[guardLen:] }

// checkGemm runs Sgemm on the case and compares it with SgemmRef. The
// tolerance is relative to the magnitude of the terms, computed in float64:
//
//	|got - ref| <= 1e-5 * sqrt(k) * (|alpha| * sum_p |a_ip*b_pj| + |beta*c_ij|) + 1e-30
//
// Both are float32 sums of k terms, so each is within about sqrt(k)*6e-8
// (random signs) and at worst k*6e-8 of that magnitude; 1e-5*sqrt(k)
// covers the worst case up to k ~ 25000 and is far below a wrong term.
func checkGemm(t *testing.T, tc gemmCase, r *rand.Rand) {
	t.Helper()
	d := newGemmData(tc, r)
	want := slices.Clone(d.c)
	c0 := slices.Clone(d.c)
	SgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, want[guardLen:], d.ldc)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, d.cview(), d.ldc)

	// mag = |alpha| * |op(A)|*|op(B)|, the magnitude of the sum's terms.
	absA, absB := absAll(d.a), absAll(d.b)
	mag := make([]float32, tc.m*d.ldc)
	SgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, absA, d.lda, absB, d.ldb, 0, mag, d.ldc)
	bad := 0
	for idx := range d.c {
		i, j := (idx-guardLen)/d.ldc, (idx-guardLen)%d.ldc
		inC := idx >= guardLen && idx < guardLen+tc.m*d.ldc && j < tc.n
		got := d.c[idx]
		if !inC {
			if math.Float32bits(got) != math.Float32bits(guardC) {
				t.Errorf("%v: guard value at offset %d overwritten with %g", tc, idx-guardLen, got)
				return
			}
			continue
		}
		mg := math.Abs(float64(tc.alpha)) * float64(mag[idx-guardLen])
		if tc.beta != 0 {
			mg += math.Abs(float64(tc.beta) * float64(c0[idx]))
		}
		tol := 1e-5*math.Sqrt(float64(max(tc.k, 1)))*mg + 1e-30
		w := want[idx]
		if math.IsNaN(float64(got)) || math.Abs(float64(got)-float64(w)) > tol {
			if bad++; bad <= 3 {
				t.Errorf("%v: C[%d][%d] = %g, want %g (tolerance %g)", tc, i, j, got, w, tol)
			}
		}
	}
}

// absAll returns |x| elementwise.
func absAll(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

// testDims are the m and n of the sweep: small, odd, around powers of two.
var testDims = []int{1, 2, 3, 5, 7, 13, 17, 31, 33, 63, 65, 100, 129}

// testDepths are the k of the sweep, around the kc blocking too.
var testDepths = []int{1, 2, 3, 4, 5, 7, 9, 17, 64, 255, 256, 257, 513}

// alphaBeta are the (alpha, beta, NaN in C) variants of the sweep.
var alphaBeta = []struct {
	alpha, beta float32
	nanC        bool
}{
	{1, 0, true}, {1, 1, false}, {0.5, -1.5, false}, {-2, 0, true}, {1.25, 0, false}, {0, 0, true}, {0, 2, false},
}

// edgeDims returns the tile edges of path p, plus and minus one.
func edgeDims(p Path) []int {
	ks := kernelSets[p]
	var ds []int
	for _, t := range []int{ks.mr, ks.nr, 2 * ks.mr, 2 * ks.nr} {
		ds = append(ds, t-1, t, t+1)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// exercised records the paths TestSgemmPaths ran, for TestPathsExercised.
var exercised = map[Path]bool{}

func TestSgemmPaths(t *testing.T) {
	defer SetThreads(Threads())
	for _, p := range SupportedPaths() {
		t.Run(p.String(), func(t *testing.T) {
			defer SetPath(p)()
			if ActivePath() != p {
				t.Fatalf("ActivePath() = %v after SetPath(%v)", ActivePath(), p)
			}
			before := [2]int64{pathCalls[p][0].Load(), pathCalls[p][1].Load()}
			r := rand.New(rand.NewPCG(1, uint64(p)))
			n := 0
			for _, threads := range []int{1, 2} {
				SetThreads(threads)
				dims := append(slices.Clone(testDims), edgeDims(p)...)
				for mi, m := range dims {
					for ni, nn := range dims {
						k := testDepths[(mi*7+ni*3+threads)%len(testDepths)]
						tr := (mi + ni) % 4
						ab := alphaBeta[(mi*5+ni)%len(alphaBeta)]
						tc := gemmCase{
							transA: tr&1 != 0, transB: tr&2 != 0, m: m, n: nn, k: k,
							alpha: ab.alpha, beta: ab.beta, nanC: ab.nanC,
							padA: (mi + ni) % 3, padB: (mi + 2*ni) % 2 * 5, padC: (mi + ni) % 2 * 3,
						}
						checkGemm(t, tc, r)
						n++
					}
				}
			}
			// Every depth and transpose combination on tile-edge shapes.
			ks := kernelSets[p]
			for _, k := range testDepths {
				for tr := 0; tr < 4; tr++ {
					for i, ab := range alphaBeta {
						tc := gemmCase{
							transA: tr&1 != 0, transB: tr&2 != 0,
							m: 2*ks.mr + 1 + i%2, n: ks.nr + 1 - i%3, k: k,
							alpha: ab.alpha, beta: ab.beta, nanC: ab.nanC,
							padA: i % 2, padB: 2 * (i % 2), padC: 1,
						}
						checkGemm(t, tc, r)
						n++
					}
				}
			}
			for kind, name := range []string{"tile", "row"} {
				if pathCalls[p][kind].Load() == before[kind] {
					t.Errorf("%d Sgemm calls on path %v never ran its %s kernel", n, p, name)
				}
			}
			exercised[p] = true
		})
	}
}

// TestSgemmBlocking checks the blocking logic (several k chunks, m and n
// blocks, packed B kept whole or per chunk, several threads) on shapes kept
// small by shrinking each path's blocking, and once with the real blocking.
func TestSgemmBlocking(t *testing.T) {
	defer SetThreads(Threads())
	r := rand.New(rand.NewPCG(7, 7))
	for _, p := range SupportedPaths() {
		t.Run(p.String(), func(t *testing.T) {
			defer SetPath(p)()
			orig := kernelSets[p]
			defer func() { kernelSets[p] = orig }()
			mr, nr := orig.mr, orig.nr
			for i, bud := range []int{0, 64 * nr, 1 << 20} {
				kernelSets[p] = orig
				kernelSets[p].kc, kernelSets[p].mc, kernelSets[p].nc, kernelSets[p].bBudget = 16, 2*mr, 2*nr, bud
				SetThreads(1 + i%2)
				for tr := 0; tr < 4; tr++ {
					tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0,
						m: 5*mr + 3, n: 5*nr - 1, k: 16*3 + 5,
						alpha: 0.75, beta: 0.5 * float32(i), nanC: i == 0, padA: 1, padB: 2, padC: 3}
					checkGemm(t, tc, r)
				}
			}
			kernelSets[p] = orig
			SetThreads(2)
			tc := gemmCase{transA: true, m: 2*orig.mc + 5, n: 3*nr + 3, k: 2*orig.kc + 3, alpha: 1, beta: 1, padC: 1}
			checkGemm(t, tc, r)
		})
	}
}

// TestSgemmPackedA checks the path that packs every micro-panel of op(A),
// taken when A's row stride would make its rows collide in L1 (a multiple
// of 1024 floats here).
func TestSgemmPackedA(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, p := range SupportedPaths() {
		t.Run(p.String(), func(t *testing.T) {
			defer SetPath(p)()
			ks := &kernelSets[p]
			if !setConflict(1024, 2*ks.mr) {
				t.Skipf("%d rows of stride 1024 do not collide", 2*ks.mr)
			}
			orig := ks.packPanels
			defer func() { ks.packPanels = orig }()
			ks.packPanels = 1
			for _, k := range []int{1, 7, 300, 700} {
				tc := gemmCase{m: 3*ks.mr + 2, n: 2*ks.nr + 3, k: k, alpha: 1.5, beta: 0.25, padA: 1024 - k, padC: 1}
				checkGemm(t, tc, r)
			}
		})
	}
}

func TestSgemmZeroSizes(t *testing.T) {
	orig := ActivePath()
	defer func() { SetPath(orig) }()
	for _, p := range SupportedPaths() {
		SetPath(p)
		// m or n == 0: C untouched.
		c := []float32{guardC}
		Sgemm(false, false, 0, 1, 3, 1, nil, 3, []float32{1, 2, 3}, 1, 0, c, 1)
		Sgemm(false, false, 1, 0, 3, 1, []float32{1, 2, 3}, 3, nil, 1, 0, c, 1)
		if math.Float32bits(c[0]) != math.Float32bits(guardC) {
			t.Errorf("%v: empty C was written", p)
		}
		// k == 0: C = beta*C, and 0 without reading C when beta == 0.
		c = []float32{2, 3, float32(math.NaN()), 4}
		Sgemm(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 0.5, c[:2], 2)
		Sgemm(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 0, c[2:], 2)
		if want := []float32{1, 1.5, 0, 0}; !slices.Equal(c, want) {
			t.Errorf("%v: k=0 gave %v, want %v", p, c, want)
		}
	}
}

func TestSgemmBadArgsPanic(t *testing.T) {
	cases := map[string]func(){
		"negative m": func() { Sgemm(false, false, -1, 1, 1, 1, nil, 1, nil, 1, 0, nil, 1) },
		"short A": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		"short B^T": func() {
			Sgemm(false, true, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 5), 2, 0, make([]float32, 6), 3)
		},
		"short C": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 3)
		},
		"small stride": func() {
			Sgemm(true, false, 2, 2, 2, 1, make([]float32, 8), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
	}
	for name, f := range cases {
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

// TestSgemmNarrowSameBits holds the AVX-512 path's 12x16 kernel, which
// computes matrices of at most 16 columns, to the AVX2 path's 6x16 kernel
// bit for bit (the same FMA chain and store per element), on every
// transpose, alpha/beta case and depths across the k chunks.
func TestSgemmNarrowSameBits(t *testing.T) {
	if !supported(AVX512) || !supported(AVX2) {
		t.Skip("needs the AVX-512 and AVX2 paths")
	}
	defer SetThreads(Threads())
	r := rand.New(rand.NewPCG(11, 12))
	for _, threads := range []int{1, 2} {
		SetThreads(threads)
		for i, sh := range [][3]int{{13, 16, 7}, {40, 9, 321}, {100, 1, 700}, {25, 15, 64}, {12, 16, 1}, {97, 16, 960}} {
			ab := alphaBeta[i%len(alphaBeta)]
			tc := gemmCase{transA: i%2 == 1, transB: i%3 == 1, m: sh[0], n: sh[1], k: sh[2], alpha: ab.alpha, beta: ab.beta, nanC: ab.nanC, padC: 2}
			d := newGemmData(tc, r)
			var out [2][]float32
			for v, p := range []Path{AVX512, AVX2} {
				restore := SetPath(p)
				c := slices.Clone(d.c)
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, c[guardLen:], d.ldc)
				out[v] = c
				restore()
			}
			for j := range out[0] {
				if math.Float32bits(out[0][j]) != math.Float32bits(out[1][j]) && !(math.IsNaN(float64(out[0][j])) && math.IsNaN(float64(out[1][j]))) {
					t.Fatalf("%v threads %d: value %d = %v on AVX-512, %v on AVX2", tc, threads, j, out[0][j], out[1][j])
				}
			}
		}
	}
}
