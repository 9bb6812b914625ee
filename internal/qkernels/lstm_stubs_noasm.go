//go:build !amd64 || noasm

package qkernels

// Stand-ins for the integer LSTM's assembly (lstm_stubs_amd64.go): never
// called without it (hasVNNI is false), present so that the package
// compiles.

func rq16AVX512(a *int32, off *int32, add *int16, out *int16, grp *rq16Group, n int) {
	panic("qkernels: AVX-512 path not built")
}

func dotVNNI1xN(a *uint8, b *int8, kq, panels, n int, c *int32) {
	panic("qkernels: VNNI path not built")
}

func dotVNNI4xN(a *uint8, lda int, b *int8, kq, panels, n int, c *int32, ldc, rows int) {
	panic("qkernels: VNNI path not built")
}

func lstmCellAVX512(z *int16, c *int16, h *int8, u int, tab *int16, k *cellConsts) {
	panic("qkernels: AVX-512 path not built")
}

func rnnCellAVX512(z *int16, h *int8, u int, tab *int16, k *cellConsts) {
	panic("qkernels: AVX-512 path not built")
}

func gruCellAVX512(px, pr *int16, h *int8, u int, tab *int16, k *cellConsts) {
	panic("qkernels: AVX-512 path not built")
}
