package qkernels

// accRows is Acc for one to four activation rows on the VNNI path (the
// integer LSTM's recurrent product at a small batch; at batch 1 a
// matrix-vector product): every panel's products of rows a (stride lda =
// RowStride(K), PaddedRows(m) rows) into dst (stride ldd), without the
// 12-row tile. It reports whether it ran (the VNNI path and 1 <= m <= 4
// only).
func (w *Weights) accRows(a []uint8, lda, m int, dst []int32, ldd int) bool {
	if w.path != VNNI || m < 1 || m > 4 {
		return false
	}
	_, _ = a[PaddedRows(m)*lda-1], dst[(m-1)*ldd+w.n-1]
	if m == 1 {
		dotVNNI1xN(&a[0], &w.b8[0], w.kq, w.panels, w.n, &dst[0])
		return true
	}
	dotVNNI4xN(&a[0], lda, &w.b8[0], w.kq, w.panels, w.n, &dst[0], ldd, m)
	return true
}
