package qkernels

import "fmt"

// Acc computes the raw products of m activation rows with the packed
// weights, without an output stage (for ops whose outputs are not int8
// codes, such as the integer LSTM's int16 gates):
//
//	dst[i*ldd+j] = sum_k a'[i][k]*w[k][j]    for i < m, j < N
//
// where a' are the uint8 rows of a (int8 XOR 0x80, PackRow), row i at
// a[i*lda:], lda = RowStride(K). a must hold PaddedRows(m) rows: the
// kernels read whole tiles of MR rows (the rows past m may hold anything;
// their products are not written). The caller takes back the +128 with
// the column sums: sum_k (a[k]-zp)*w[k][j] = dst - (zp+128)*ColSums()[j].
// One thread computes everything, on the weights' path; the result is the
// same integers on every path.
func (w *Weights) Acc(a []uint8, lda, m int, dst []int32, ldd int) error {
	if m < 0 || lda != RowStride(w.k) || ldd < w.n || len(a) < PaddedRows(m)*lda || (m > 0 && len(dst) < (m-1)*ldd+w.n) {
		return fmt.Errorf("qkernels: Acc(m=%d, lda=%d, ldd=%d) with %d activation bytes and %d outputs", m, lda, ldd, len(a), len(dst))
	}
	if m <= 4 && w.accRows(a, lda, m, dst, ldd) { // a few rows (lstm_acc.go)
		return nil
	}
	var tile [MR * 32]int32
	for i0 := 0; i0 < m; i0 += MR {
		rows := min(MR, m-i0)
		at := a[i0*lda:]
		for pn := 0; pn < w.panels; pn++ {
			n0 := pn * w.nr
			cols := min(w.nr, w.n-n0)
			switch w.path {
			case VNNI:
				dotVNNI12x32(&at[0], lda, &w.b8[pn*w.kq*128], w.kq, &tile[0])
			case AVX2:
				b := &w.b16[pn*w.kq*64]
				for r := 0; r < rows; r += 4 {
					dotAVX2x4x16(&at[r*lda], lda, b, w.kq, &tile[r*16])
				}
			default:
				dotGeneric(at, lda, w.b8[pn*w.kq*128:(pn+1)*w.kq*128], w.kq, &tile)
			}
			for i := 0; i < rows; i++ {
				copy(dst[(i0+i)*ldd+n0:(i0+i)*ldd+n0+cols], tile[i*w.nr:i*w.nr+cols])
			}
		}
	}
	return nil
}
