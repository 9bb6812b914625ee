package kernels

// SgemmChunkDepth returns the depth of the k chunks that Sgemm and
// SgemmSerial cut a product of n columns and depth k into on the active
// path: k is summed chunk by chunk, each chunk's products added to C in
// order (C = alpha*sum + C, the first chunk with the caller's beta). A
// caller that splits k itself into pieces made of whole chunks of this
// depth, and calls Sgemm on each piece with beta 1 after the first, gets
// the bits of the single call, provided each piece's own chunk depth
// (SgemmChunkDepth of its rows) is the same: Conv2D's weight gradient
// does so to compute the im2col matrix piece by piece in the cache
// (docs/DESIGN.md, Training kernels).
func SgemmChunkDepth(n, k int) int {
	ks := &kernelSets[ActivePath()]
	if ks.narrow != nil && n <= ks.narrow.nr {
		ks = ks.narrow
	}
	if k <= 0 {
		return 0
	}
	return chunkDepth(k, ks.kc)
}
