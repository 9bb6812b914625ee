package quantize

import (
	"github.com/goqat/goqat/internal/kernels"
)

// chanSums computes per-channel sums over the rows of x (rows x C, row
// major): s1[c] = sum x[r,c] and, if y is not nil, s2[c] = sum x[r,c]*y[r,c],
// in float64. The rows are split into a fixed number of chunks that
// depends only on the shape (not on the thread count); chunks may run in
// parallel and their partial sums are added in chunk order, so the result
// is reproducible bit for bit. runScaled also writes out = x*inv per
// channel in the same pass.
type chanSums struct {
	part   []float64
	x, y   []float32
	inv    []float32
	out    []float32
	c      int
	chunks int
	rows   int
	fn     func(lo, hi int)
}

// run computes the sums into s1 and s2 (s2 may be nil when y is nil).
func (s *chanSums) run(x, y []float32, C int, s1, s2 []float64) {
	s.runScaled(x, y, C, s1, s2, nil, nil)
}

// runScaled is run that also writes out[r,c] = x[r,c]*inv[c] (when out is
// not nil) while it reads x.
func (s *chanSums) runScaled(x, y []float32, C int, s1, s2 []float64, inv, out []float32) {
	s.x, s.y, s.c = x, y, C
	s.inv, s.out = inv, out
	s.rows = len(x) / C
	s.chunks = max(1, min(16, s.rows*C/16384, s.rows))
	if n := s.chunks * 2 * C; cap(s.part) < n {
		s.part = make([]float64, n)
	} else {
		s.part = s.part[:n]
	}
	if s.fn == nil {
		s.fn = s.chunkRange
	}
	kernels.ParallelFor(s.chunks, 1, s.fn)
	clear(s1)
	if s2 != nil {
		clear(s2)
	}
	for k := 0; k < s.chunks; k++ {
		p := s.part[k*2*C : (k+1)*2*C]
		for j := 0; j < C; j++ {
			s1[j] += p[j]
			if s2 != nil {
				s2[j] += p[C+j]
			}
		}
	}
	s.x, s.y, s.inv, s.out = nil, nil, nil, nil
}

// chunkRange sums chunks [lo, hi).
func (s *chanSums) chunkRange(lo, hi int) {
	C := s.c
	for k := lo; k < hi; k++ {
		p1 := s.part[k*2*C : k*2*C+C]
		p2 := s.part[k*2*C+C : (k+1)*2*C]
		clear(p1)
		clear(p2)
		r0, r1 := k*s.rows/s.chunks, (k+1)*s.rows/s.chunks
		for r := r0; r < r1; r++ {
			xr := s.x[r*C : (r+1)*C]
			xr = xr[:len(p1)]
			if s.out != nil {
				or, inv := s.out[r*C:(r+1)*C], s.inv[:len(p1)]
				or = or[:len(p1)]
				for j, v := range xr {
					or[j] = v * inv[j]
				}
			}
			if s.y == nil {
				for j, v := range xr {
					p1[j] += float64(v)
				}
				continue
			}
			yr := s.y[r*C : (r+1)*C]
			yr = yr[:len(p1)]
			p2 = p2[:len(p1)]
			for j, v := range xr {
				p1[j] += float64(v)
				p2[j] += float64(v) * float64(yr[j])
			}
		}
	}
}
