package kernels

import "math"

// BNStats is the per-channel arithmetic of a training batch normalization
// over a (rows, cols) matrix whose columns are the channels (an NHWC
// tensor viewed as (N*H*W, C)), the one implementation that
// nn.BatchNormalization and quantize's folded Conv+BN share so that their
// statistics agree bit for bit:
//
//   - the reductions' plan: a fixed number of row chunks that depends only
//     on the shape (BNChunks), each with its own partial sums (Sums), so
//     that chunks may run in parallel and the result does not depend on
//     the thread count;
//   - the batch statistics (FromBatch): the chunks' partial sums of
//     d = x - Shift and d*d added in chunk order in float64, then the
//     shifted-data one-pass mean and biased variance;
//   - the moving statistics' update (UpdateMoving):
//     moving = moving*m + batch*(1-m), m = min(momentum, (1+step)/(10+step));
//   - the gradient's coefficients (Grad) from the chunks' partial sums of
//     dy and dy*(x - Center).
//
// The passes that fill the partial sums are the caller's (ChannelSums,
// ChannelGradSums, FoldStats, FoldGradSums and their variants, one call
// per chunk); ChannelSumsChunks is the plain statistics pass. A training
// step runs Plan, sets Shift, fills the chunks' sums, FromBatch and
// UpdateMoving; its backward fills the chunks' sums again and runs Grad.
// An inference step runs Plan and FromMoving. Nothing allocates once the
// buffers have the shape's size.
type BNStats struct {
	// Shift (C) is subtracted from every value before the statistics
	// pass's sums: the first row of the normalized input, which keeps the
	// one-pass variance exact in float64 when the mean is much larger
	// than the spread. The caller sets it after Plan (SetShift).
	Shift []float64
	// Mean and Var (C) are the batch mean and biased variance of the last
	// FromBatch.
	Mean, Var []float64
	// Center and Scale (C) define the normalization (x - Center)*Scale
	// (then + beta): the batch mean and gamma/sqrt(Var + eps) after
	// FromBatch, the moving mean and gamma/sqrt(moving variance + eps)
	// after FromMoving. Center64 is Center in float64 and InvStd the
	// 1/sqrt(variance + eps) that Scale was computed from.
	Center, Scale    []float32
	Center64, InvStd []float64
	// K1, K2 and K3 (C) are the input gradient's coefficients of the last
	// Grad: dx = K1*dy + K2*(x - Center) + K3.
	K1, K2, K3 []float32

	rows, cols, chunks int
	part               []float64 // chunks x (2*cols) partial sums
}

// BNChunks is the number of row chunks of batch normalization's
// per-channel reductions over a (rows, cols) matrix: at most 16, about one
// per 16K values, at most one per row, at least one; a function of the
// shape only.
func BNChunks(rows, cols int) int {
	return max(1, min(16, rows*cols/16384, rows))
}

// Plan sets up the reductions over a (rows, cols) matrix: the chunk count
// (BNChunks) and the buffers, which are reallocated only when they are too
// small (the per-channel ones when cols changes).
func (s *BNStats) Plan(rows, cols int) {
	if s.cols != cols || s.Shift == nil {
		s.cols = cols
		s.Shift = make([]float64, cols)
		s.Mean = make([]float64, cols)
		s.Var = make([]float64, cols)
		s.Center = make([]float32, cols)
		s.Scale = make([]float32, cols)
		s.Center64 = make([]float64, cols)
		s.InvStd = make([]float64, cols)
		s.K1 = make([]float32, cols)
		s.K2 = make([]float32, cols)
		s.K3 = make([]float32, cols)
	}
	s.rows = rows
	s.chunks = BNChunks(rows, cols)
	if n := s.chunks * 2 * cols; cap(s.part) < n {
		s.part = make([]float64, n)
	} else {
		s.part = s.part[:n]
	}
}

// Rows returns the planned row count.
func (s *BNStats) Rows() int { return s.rows }

// Chunks returns the planned number of row chunks.
func (s *BNStats) Chunks() int { return s.chunks }

// ChunkRows returns chunk k's rows [lo, hi).
func (s *BNStats) ChunkRows(k int) (lo, hi int) {
	return k * s.rows / s.chunks, (k + 1) * s.rows / s.chunks
}

// Sums returns chunk k's two vectors of per-channel partial sums (C each),
// which that chunk's pass sets: of d and d*d for the statistics, of dy and
// dy*(x - Center) for the gradient (or whatever two sums SumParts adds).
func (s *BNStats) Sums(k int) (s1, s2 []float64) {
	C := s.cols
	return s.part[k*2*C : k*2*C+C], s.part[k*2*C+C : (k+1)*2*C]
}

// Parts returns every chunk's partial sums, chunk by chunk (chunks x 2C),
// as the last pass left them (owned by s).
func (s *BNStats) Parts() []float64 { return s.part }

// SetShift sets Shift to row (C values, the first row of the input).
func (s *BNStats) SetShift(row []float32) {
	for j, v := range row[:s.cols] {
		s.Shift[j] = float64(v)
	}
}

// ChannelSumsChunks runs the statistics pass (ChannelSums with Shift) over
// chunks [k0, k1) of x (rows, C).
func (s *BNStats) ChannelSumsChunks(x []float32, k0, k1 int) {
	C := s.cols
	for k := k0; k < k1; k++ {
		r0, r1 := s.ChunkRows(k)
		s1, s2 := s.Sums(k)
		ChannelSums(x[r0*C:r1*C], r1-r0, C, s.Shift, s1, s2)
	}
}

// reduce returns channel j's two sums over the chunks, added in chunk
// order from 0.
func (s *BNStats) reduce(j int) (s1, s2 float64) {
	C := s.cols
	for k := 0; k < s.chunks; k++ {
		s1 += s.part[k*2*C+j]
		s2 += s.part[k*2*C+C+j]
	}
	return s1, s2
}

// SumParts sets s1 and s2 (C each; s2 may be nil) to the chunks' partial
// sums added in chunk order from 0.
func (s *BNStats) SumParts(s1, s2 []float64) {
	for j := range s1[:s.cols] {
		a, b := s.reduce(j)
		s1[j] = a
		if s2 != nil {
			s2[j] = b
		}
	}
}

// FromBatch computes, from the statistics pass's partial sums (of
// d = x - Shift and d*d), each channel's batch mean and biased variance
//
//	mean = Shift + sum(d)/M,  var = max(sum(d*d)/M - (sum(d)/M)^2, 0)
//
// (M the row count) and the normalization for them: Center = mean,
// InvStd = 1/sqrt(var + eps), Scale = gamma*InvStd.
func (s *BNStats) FromBatch(gamma []float32, eps float64) {
	m := float64(s.rows)
	for j := 0; j < s.cols; j++ {
		sd, sq := s.reduce(j)
		d := sd / m
		mean := s.Shift[j] + d
		v := max(sq/m-d*d, 0)
		s.Mean[j], s.Var[j] = mean, v
		s.Center[j] = float32(mean)
		s.Center64[j] = float64(s.Center[j])
		s.InvStd[j] = 1 / math.Sqrt(v+eps)
		s.Scale[j] = float32(float64(gamma[j]) * s.InvStd[j])
	}
}

// FromMoving sets the normalization for the moving statistics:
// Center = movingMean, InvStd = 1/sqrt(movingVar + eps),
// Scale = gamma*InvStd.
func (s *BNStats) FromMoving(gamma, movingMean, movingVar []float32, eps float64) {
	for j := 0; j < s.cols; j++ {
		s.Center[j] = movingMean[j]
		s.Center64[j] = float64(movingMean[j])
		s.InvStd[j] = 1 / math.Sqrt(float64(movingVar[j])+eps)
		s.Scale[j] = float32(float64(gamma[j]) * s.InvStd[j])
	}
}

// BNDecay is the moving statistics' decay at optimizer step step:
// min(momentum, (1+step)/(10+step)), the warm-up of TensorFlow's
// ExponentialMovingAverage with num_updates.
func BNDecay(momentum float64, step int) float64 {
	return min(momentum, float64(1+step)/float64(10+step))
}

// UpdateMoving updates the moving statistics (C each) with the last
// FromBatch's mean and variance: moving = moving*m + batch*(1-m) in
// float64, m = BNDecay(momentum, step).
func (s *BNStats) UpdateMoving(movingMean, movingVar []float32, momentum float64, step int) {
	mom := BNDecay(momentum, step)
	mm, mv := movingMean[:s.cols], movingVar[:s.cols]
	for j := range mm {
		mm[j] = float32(float64(mm[j])*mom + s.Mean[j]*(1-mom))
		mv[j] = float32(float64(mv[j])*mom + s.Var[j]*(1-mom))
	}
}

// Grad computes, from the gradient pass's partial sums (of dy and
// dy*(x - Center), dy the gradient of the normalized output before beta),
// the parameter gradients dbeta = sum(dy) and dgamma = sum(dy*(x -
// Center))*InvStd, and the input gradient's coefficients K1..K3: after
// FromBatch (batch true) the full gradient through the batch mean and
// variance,
//
//	dx = gamma*InvStd * (dy - sum(dy)/M - xhat*sum(dy*xhat)/M),
//
// after FromMoving (batch false) the affine map's, dx = Scale*dy.
func (s *BNStats) Grad(gamma []float32, batch bool, dgamma, dbeta []float32) {
	m := float64(s.rows)
	for j := 0; j < s.cols; j++ {
		sd, sq := s.reduce(j)
		g := float64(gamma[j])
		is := s.InvStd[j]
		dbeta[j] = float32(sd)
		dgamma[j] = float32(sq * is)
		s.K1[j] = s.Scale[j]
		if batch {
			s.K2[j] = float32(-g * is * is * is * sq / m)
			s.K3[j] = float32(-g * is * sd / m)
		} else {
			s.K2[j], s.K3[j] = 0, 0
		}
	}
}
