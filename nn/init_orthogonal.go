package nn

import (
	"math"
	"math/rand/v2"
)

// orthogonal fills data, a rows x cols matrix (row-major), with Keras's
// Orthogonal initializer (gain 1), the default recurrent kernel of LSTM,
// GRU and SimpleRNN: a (max, min)-shaped matrix of standard normal values
// (drawn from r in row-major order) is factored A = QR with R's diagonal
// made positive, and Q, transposed when rows < cols, is the result: the
// rows (or columns, whichever are fewer) are orthonormal.
//
// Q is computed by modified Gram-Schmidt in float64, twice over each
// column, which gives the QR factor with a positive diagonal.
func orthogonal(r *rand.Rand, data []float32, rows, cols int) {
	m, k := max(rows, cols), min(rows, cols)
	a := make([]float64, m*k) // (m, k) row-major
	for i := range a {
		a[i] = r.NormFloat64()
	}
	col := func(j int, v []float64) {
		for i := 0; i < m; i++ {
			v[i] = a[i*k+j]
		}
	}
	q := make([][]float64, k) // columns of Q
	for j := 0; j < k; j++ {
		v := make([]float64, m)
		col(j, v)
		for pass := 0; pass < 2; pass++ {
			for _, p := range q[:j] {
				var d float64
				for i := range v {
					d += p[i] * v[i]
				}
				for i := range v {
					v[i] -= d * p[i]
				}
			}
		}
		var nrm float64
		for _, x := range v {
			nrm += x * x
		}
		nrm = math.Sqrt(nrm)
		if nrm == 0 { // probability zero; keep the matrix finite
			nrm = 1
		}
		for i := range v {
			v[i] /= nrm
		}
		q[j] = v
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			if rows < cols {
				data[i*cols+j] = float32(q[i][j]) // Q^T: (k, m)
			} else {
				data[i*cols+j] = float32(q[j][i]) // Q: (m, k)
			}
		}
	}
}
