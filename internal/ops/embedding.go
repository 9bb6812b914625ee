package ops

// EmbeddingRow returns the table row an Embedding reads for index value v
// among rows rows, and false when v is not a whole number in [0, rows)
// (NaN, infinities and fractions included): the layer then outputs a zero
// vector. nn's float layer, quantize's QAT layer and lite's integer op
// share it, so that they agree on every input.
func EmbeddingRow(v float32, rows int) (int, bool) {
	if !(v >= 0) || float64(v) >= float64(rows) {
		return 0, false
	}
	i := int(v)
	return i, float32(i) == v
}
