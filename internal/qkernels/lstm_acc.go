package qkernels

// accRow is Acc for a single activation row on the VNNI path (the integer
// LSTM's recurrent product at batch 1, a matrix-vector product): every
// panel's products of row a (RowStride(K) bytes) into dst[:N], without the
// 12-row tile. It reports whether it ran (the VNNI path only).
func (w *Weights) accRow(a []uint8, dst []int32) bool {
	if w.path != VNNI {
		return false
	}
	_, _ = a[RowStride(w.k)-1], dst[w.n-1]
	dotVNNI1xN(&a[0], &w.b8[0], w.kq, w.panels, w.n, &dst[0])
	return true
}
