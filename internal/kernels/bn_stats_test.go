package kernels

import "testing"

// TestBNStatsPlan checks the reductions' plan: BNChunks chunks whose rows
// tile [0, rows) in order, disjoint partial-sum vectors, and no allocation
// when the shape repeats or shrinks.
func TestBNStatsPlan(t *testing.T) {
	var s BNStats
	for _, sh := range []struct{ rows, cols, chunks int }{
		{0, 5, 1}, {1, 5, 1}, {3, 20000, 3}, {100, 35, 1}, {8 * 20 * 20, 24, 4}, {64 * 26 * 26, 32, 16},
	} {
		s.Plan(sh.rows, sh.cols)
		if s.Chunks() != sh.chunks || s.Chunks() != BNChunks(sh.rows, sh.cols) || s.Rows() != sh.rows {
			t.Fatalf("%dx%d: %d chunks of %d rows, want %d", sh.rows, sh.cols, s.Chunks(), s.Rows(), sh.chunks)
		}
		next := 0
		for k := 0; k < s.Chunks(); k++ {
			lo, hi := s.ChunkRows(k)
			if lo != next || hi < lo {
				t.Fatalf("%dx%d: chunk %d rows [%d, %d) after %d", sh.rows, sh.cols, k, lo, hi, next)
			}
			next = hi
			s1, s2 := s.Sums(k)
			if len(s1) != sh.cols || len(s2) != sh.cols || &s2[0] != &s.Parts()[(2*k+1)*sh.cols] {
				t.Fatalf("%dx%d: chunk %d sums of %d, %d values", sh.rows, sh.cols, k, len(s1), len(s2))
			}
		}
		if next != sh.rows || len(s.Parts()) != 2*sh.cols*s.Chunks() {
			t.Fatalf("%dx%d: chunks end at row %d, %d partial sums", sh.rows, sh.cols, next, len(s.Parts()))
		}
	}
	s.Plan(64*26*26, 32)
	if n := testing.AllocsPerRun(10, func() { s.Plan(64*26*26, 32); s.Plan(10, 32) }); n != 0 {
		t.Fatalf("Plan of a known shape allocates %v times", n)
	}
}

// TestBNStatsExact runs a training and an inference step on values whose
// statistics are exact in float64 (small integers, means and variances of
// a few bits), over several chunks and 35 channels (the AVX-512 blocks and
// a tail), against the values worked out by hand.
func TestBNStatsExact(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, _ Path) {
		const rows, cols = 1024, 35
		var s BNStats
		s.Plan(rows, cols)
		if s.Chunks() < 2 {
			t.Fatalf("%d chunk(s), want several", s.Chunks())
		}
		// Channel j: rows alternate 100+j-1 and 100+j+1 (mean 100+j,
		// variance 1) after a first row of 100+j+1.
		x := make([]float32, rows*cols)
		for r := 0; r < rows; r++ {
			for j := 0; j < cols; j++ {
				x[r*cols+j] = float32(100 + j + 1 - 2*(r%2))
			}
		}
		gamma, mm, mv := make([]float32, cols), make([]float32, cols), make([]float32, cols)
		for j := range gamma {
			gamma[j], mm[j], mv[j] = float32(j-3), 0, 1
		}
		s.SetShift(x[:cols])
		s.ChannelSumsChunks(x, 0, s.Chunks())
		s.FromBatch(gamma, 3) // 1/sqrt(1 + 3) = 0.5
		for j := 0; j < cols; j++ {
			if s.Mean[j] != float64(100+j) || s.Var[j] != 1 || s.Center[j] != float32(100+j) || s.Center64[j] != float64(100+j) {
				t.Fatalf("channel %d: mean %v (%v, %v), var %v", j, s.Mean[j], s.Center[j], s.Center64[j], s.Var[j])
			}
			if s.InvStd[j] != 0.5 || s.Scale[j] != float32(j-3)/2 {
				t.Fatalf("channel %d: inverse deviation %v, scale %v", j, s.InvStd[j], s.Scale[j])
			}
		}
		if BNDecay(0.99, 0) != 0.1 || BNDecay(0.99, 10) != 11.0/20 || BNDecay(0.99, 1000) != 0.99 || BNDecay(0.5, 2) != 0.25 || BNDecay(0.5, 100) != 0.5 {
			t.Fatalf("decays %v, %v, %v, %v", BNDecay(0.99, 0), BNDecay(0.99, 10), BNDecay(0.99, 1000), BNDecay(0.5, 2))
		}
		s.UpdateMoving(mm, mv, 0.5, 100) // decay 0.5
		for j := 0; j < cols; j++ {
			if mm[j] != float32(100+j)/2 || mv[j] != 1 {
				t.Fatalf("channel %d: moving mean %v, variance %v", j, mm[j], mv[j])
			}
		}
		// Gradient sums as a gradient pass would leave them: per chunk,
		// sum(dy) = 1 and sum(dy*(x - center)) = 2 in every channel.
		for k := 0; k < s.Chunks(); k++ {
			s1, s2 := s.Sums(k)
			for j := range s1 {
				s1[j], s2[j] = 1, 2
			}
		}
		dg, db := make([]float32, cols), make([]float32, cols)
		s.Grad(gamma, true, dg, db)
		n := float64(s.Chunks())
		for j := 0; j < cols; j++ {
			g := float64(j - 3)
			if db[j] != float32(n) || dg[j] != float32(n) || s.K1[j] != s.Scale[j] ||
				s.K2[j] != float32(-g/8*2*n/rows) || s.K3[j] != float32(-g/2*n/rows) {
				t.Fatalf("channel %d: dgamma %v, dbeta %v, k %v %v %v", j, dg[j], db[j], s.K1[j], s.K2[j], s.K3[j])
			}
		}
		got := make([]float64, cols)
		s.SumParts(got, nil)
		for j := range got {
			if got[j] != n {
				t.Fatalf("channel %d: summed parts %v, want %v", j, got[j], n)
			}
		}
		// Inference: the moving statistics (mean 50+j/2, variance 1).
		s.FromMoving(gamma, mm, mv, 3)
		s.Grad(gamma, false, dg, db)
		for j := 0; j < cols; j++ {
			if s.Center[j] != mm[j] || s.Center64[j] != float64(mm[j]) || s.InvStd[j] != 0.5 || s.Scale[j] != float32(j-3)/2 {
				t.Fatalf("channel %d (moving): center %v, inverse deviation %v, scale %v", j, s.Center[j], s.InvStd[j], s.Scale[j])
			}
			if s.K1[j] != s.Scale[j] || s.K2[j] != 0 || s.K3[j] != 0 || dg[j] != float32(n) || db[j] != float32(n) {
				t.Fatalf("channel %d (moving): dgamma %v, dbeta %v, k %v %v %v", j, dg[j], db[j], s.K1[j], s.K2[j], s.K3[j])
			}
		}
	})
}
