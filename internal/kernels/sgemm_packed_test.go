package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// checkPacked packs op(B) of the case (in parts, last part first), then
// computes C block of rows by block of rows (block rows each, the last
// maybe fewer) with SgemmPacked, and checks it bit for bit against one
// Sgemm call over all m rows (alpha 1, beta 0), which uses the row kernel
// when m is below the tile: SgemmPacked is told to do the same. The
// guard zones around C must survive.
func checkPacked(t *testing.T, tc gemmCase, block int, r *rand.Rand) {
	t.Helper()
	d := newGemmData(tc, r)
	want := make([]float32, len(d.c))
	copy(want, d.c)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, d.a, d.lda, d.b, d.ldb, 0, want[guardLen:], d.ldc)
	var p PackedB
	parts := p.Prepare(tc.transB, tc.k, tc.n, d.b, d.ldb)
	if block >= tc.m {
		// One product of every row: PrepareRows with its rows (B read
		// in place at any stride for one block of rows).
		parts = p.PrepareRows(tc.m, tc.transB, tc.k, tc.n, d.b, d.ldb)
	}
	for i := parts - 1; i >= 0; i-- {
		p.Pack(i)
	}
	rows := tc.m < TileRows(tc.n) && !tc.transB
	for i0 := 0; i0 < tc.m; i0 += block {
		i1 := min(tc.m, i0+block)
		var a []float32
		if tc.transA {
			a = d.a[i0:]
		} else {
			a = d.a[i0*d.lda:]
		}
		SgemmPacked(tc.transA, i1-i0, a, d.lda, &p, d.cview()[i0*d.ldc:], d.ldc, rows)
	}
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(d.c[i]) {
			t.Fatalf("%v block %d: C at offset %d = %v, Sgemm gives %v", tc, block, i-guardLen, d.c[i], want[i])
		}
	}
	// Again by column ranges of one or two steps (all rows at once).
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			d.c[guardLen+i*d.ldc+j] = guardC
		}
	}
	for j0 := 0; j0 < tc.n; {
		j1 := min(tc.n, j0+PackedColStep*(1+j0/PackedColStep%2))
		SgemmPackedCols(tc.transA, tc.m, d.a, d.lda, &p, d.cview(), d.ldc, rows, j0, j1)
		j0 = j1
	}
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(d.c[i]) {
			t.Fatalf("%v by columns: C at offset %d = %v, Sgemm gives %v", tc, i-guardLen, d.c[i], want[i])
		}
	}
}

// TestSgemmPacked checks SgemmPacked against Sgemm on every path, with odd
// shapes, transposes, row blocks of every size from one row, the row
// kernel, and (with the blocking shrunk) several k chunks and column
// blocks.
func TestSgemmPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for _, p := range SupportedPaths() {
		t.Run(p.String(), func(t *testing.T) {
			defer SetPath(p)()
			before := [2]int64{pathCalls[p][0].Load(), pathCalls[p][1].Load()}
			ks := kernelSets[p]
			for _, m := range []int{1, ks.mr - 1, ks.mr, 2*ks.mr + 5, 100} {
				for _, n := range []int{1, 17, ks.nr + 3, 70, 129} {
					for _, k := range []int{1, 33, 700} {
						for tr := 0; tr < 4; tr++ {
							tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: m, n: n, k: k,
								padA: tr % 3, padB: (tr + 1) % 2 * 3, padC: tr % 2 * 2}
							for _, block := range []int{1, 2*ks.mr + 1, m} {
								checkPacked(t, tc, max(1, block), r)
							}
						}
					}
				}
			}
			// A B whose row stride makes its rows collide in L1
			// (setConflict): packed for many rows, read in place for one
			// block of rows with PrepareRows.
			for _, m := range []int{ks.mr + 5, 49, 100} {
				tc := gemmCase{m: m, n: 1024, k: 333, padC: 1}
				checkPacked(t, tc, m, r)
				checkPacked(t, tc, 2*ks.mr+1, r)
				var pb PackedB
				pb.PrepareRows(m, false, tc.k, tc.n, make([]float32, tc.k*tc.n), tc.n)
				if want := p == AVX512 && m <= ks.mc; pb.inPlace != want {
					t.Errorf("PrepareRows(%d) of %dx%d on %v: in place %v, want %v", m, tc.k, tc.n, p, pb.inPlace, want)
				}
			}
			orig := kernelSets[p]
			defer func() { kernelSets[p] = orig }()
			kernelSets[p].kc, kernelSets[p].mc, kernelSets[p].nc = 16, 2*ks.mr, 2*ks.nr
			for tr := 0; tr < 4; tr++ {
				tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: 5*ks.mr + 3, n: 5*ks.nr - 1, k: 16*3 + 5, padA: 1, padB: 2, padC: 3}
				checkPacked(t, tc, 3*ks.mr, r)
				checkPacked(t, tc, 7, r)
			}
			for kind, name := range []string{"tile", "row"} {
				if pathCalls[p][kind].Load() == before[kind] {
					t.Errorf("SgemmPacked on path %v never ran its %s kernel", p, name)
				}
			}
			if p == AVX512 && inPlaceCalls.Load() == 0 {
				t.Error("SgemmPacked on the AVX512 path never read B in place")
			}
			if p == AVX512 && panelCalls.Load() == 0 {
				t.Error("SgemmPacked on the AVX512 path never ran a block of rows by micro-panels")
			}
			if p == AVX512 && edge4Calls.Load() == 0 {
				t.Error("SgemmPacked on the AVX512 path never ran the 4-row edge kernel")
			}
			if p == AVX512 && packPanelCalls.Load() == 0 {
				t.Error("packB on the AVX512 path never copied a micro-panel with AVX-512")
			}
		})
	}
}

// TestSgemmPackedMisuse checks the programming errors that panic.
func TestSgemmPackedMisuse(t *testing.T) {
	b := make([]float32, 12)
	c := make([]float32, 12)
	for name, f := range map[string]func(){
		"unprepared": func() {
			var p PackedB
			SgemmPacked(false, 1, b, 3, &p, c, 4, false)
		},
		"short B": func() {
			var p PackedB
			p.Prepare(false, 3, 5, b, 5)
		},
		"misaligned columns": func() {
			var p PackedB
			p.Prepare(false, 2, 6, b, 6)
			SgemmPackedCols(false, 1, b, 2, &p, c, 6, false, 3, 6)
		},
		"row kernel with B transposed": func() {
			var p PackedB
			p.Prepare(true, 3, 4, b, 3)
			SgemmPacked(false, 1, b, 3, &p, c, 4, true)
		},
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

// TestSgemmPackedNoAllocs checks that packing again and multiplying do not
// allocate once p has its size.
func TestSgemmPackedNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	const m, n, k = 40, 50, 60
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	var p PackedB
	run := func() {
		parts := p.Prepare(false, k, n, b, n)
		for i := 0; i < parts; i++ {
			p.Pack(i)
		}
		SgemmPacked(false, m, a, k, &p, c, n, false)
	}
	run()
	if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
		t.Errorf("%v allocations per packed product, want 0", allocs)
	}
}

func BenchmarkSgemmPacked(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{49, 960, 160}, {3136, 144, 24}, {49, 512, 4608}, {196, 256, 2304}, {3136, 64, 576}} {
		a := make([]float32, s.m*s.k)
		bm := make([]float32, s.k*s.n)
		c := make([]float32, s.m*s.n)
		flops := func(b *testing.B) {
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(fmt.Sprintf("%dx%dx%d/sgemm", s.m, s.n, s.k), func(b *testing.B) {
			for b.Loop() {
				SgemmSerial(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
			}
			flops(b)
		})
		var p PackedB
		parts := p.Prepare(false, s.k, s.n, bm, s.n)
		for i := 0; i < parts; i++ {
			p.Pack(i)
		}
		b.Run(fmt.Sprintf("%dx%dx%d/packed", s.m, s.n, s.k), func(b *testing.B) {
			for b.Loop() {
				SgemmPacked(false, s.m, a, s.k, &p, c, s.n, false)
			}
			flops(b)
		})
	}
}
