package qkernels

import "fmt"

// MR is the number of activation rows one tile computes; an activation
// buffer holds PaddedRows(m) rows so that the last tile may read past m.
const MR = 12

// RowStride returns the stride in bytes of an activation row of k values:
// k rounded up to a multiple of 4 (one VPDPBUSD group). The bytes past k
// may hold anything: the packed weights are zero there.
func RowStride(k int) int { return (k + 3) &^ 3 }

// PaddedRows returns m rounded up to a multiple of MR.
func PaddedRows(m int) int { return (m + MR - 1) / MR * MR }

// panelWidth is the number of columns of one packed panel on a path.
func panelWidth(p Path) int {
	if p == AVX2 {
		return 16
	}
	return 32
}

// Weights is a (K, N) int8 weight matrix packed for one path, with its
// column sums. It is read-only once packed and may be shared by goroutines.
type Weights struct {
	path   Path
	k, n   int
	kq     int // K/4 rounded up
	nr     int // panel width
	panels int
	b8     []int8  // VNNI: [panel][kq][32 cols][4]; Generic: [panel][32 cols][4*kq]
	b16    []int16 // AVX2: [panel][kq][2 col halves][2 pairs][8 cols][2]
	colSum []int32
}

// PackWeights packs w, (K, N) row-major, for path p (the active path when
// p < 0). It returns an error for bad dimensions or an unsupported path.
func PackWeights(p Path, w []int8, k, n int) (*Weights, error) {
	if p < 0 {
		p = ActivePath()
	}
	if p >= numPaths || !supported(p) {
		return nil, fmt.Errorf("qkernels: path %v not supported here", p)
	}
	if k < 1 || n < 1 || len(w) != k*n {
		return nil, fmt.Errorf("qkernels: %d weights for a (%d, %d) matrix", len(w), k, n)
	}
	pw := &Weights{path: p, k: k, n: n, kq: (k + 3) / 4, nr: panelWidth(p)}
	pw.panels = (n + pw.nr - 1) / pw.nr
	pw.colSum = make([]int32, n)
	for i := 0; i < k; i++ {
		for j, v := range w[i*n : (i+1)*n] {
			pw.colSum[j] += int32(v)
		}
	}
	if p == AVX2 {
		pw.b16 = make([]int16, pw.panels*pw.kq*64)
		for i := 0; i < k; i++ {
			q, t := i/4, i%4
			for j := 0; j < n; j++ {
				pn, jj := j/16, j%16
				idx := (pn*pw.kq+q)*64 + (jj/8)*32 + (t/2)*16 + (jj%8)*2 + t%2
				pw.b16[idx] = int16(w[i*n+j])
			}
		}
		return pw, nil
	}
	pw.b8 = make([]int8, pw.panels*pw.kq*128)
	for i := 0; i < k; i++ {
		q, t := i/4, i%4
		for j := 0; j < n; j++ {
			pn, jj := j/32, j%32
			if p == Generic {
				// Column-major panels: each dot product runs over contiguous k.
				pw.b8[pn*pw.kq*128+jj*4*pw.kq+i] = w[i*n+j]
			} else {
				pw.b8[(pn*pw.kq+q)*128+jj*4+t] = w[i*n+j]
			}
		}
	}
	return pw, nil
}

// Path returns the path the weights are packed for.
func (w *Weights) Path() Path { return w.path }

// K returns the number of rows (the dot-product length).
func (w *Weights) K() int { return w.k }

// N returns the number of columns (outputs).
func (w *Weights) N() int { return w.n }

// ColSums returns sum_k w[k][n] per column n (shared; do not modify).
func (w *Weights) ColSums() []int32 { return w.colSum }
