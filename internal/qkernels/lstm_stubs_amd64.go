//go:build amd64 && !noasm

package qkernels

// The Go declarations of the integer LSTM's assembly routines, as
// stubs_amd64.go for the rest of the package.

// lstm_rq16_avx512_amd64.s: Requant16.Rows with AVX-512.

// rq16AVX512 computes Requant16.Rows on n columns with the constants of
// (n+15)/16 groups at grp; add is nil for no recurrent term:
//
//	for j := 0; j < n; j++ {
//		p := int64(a[j]+off[j]) * m0(grp, j)
//		q := sat16((p + half(grp, j) + (p>>s(grp, j))&1) >> s(grp, j))
//		if add != nil {
//			q = sat16(q + add[j])
//		}
//		out[j] = q
//	}
//
//go:noescape
func rq16AVX512(a *int32, off *int32, add *int16, out *int16, grp *rq16Group, n int)

// lstm_acc_vnni_amd64.s: the products of one to four rows of Acc.

// dotVNNI1xN computes one row's products with every panel of packed VNNI
// weights, n columns (n > 32*(panels-1)):
//
//	for j := 0; j < n; j++ {
//		var s int32
//		for q := 0; q < kq; q++ {
//			for t := 0; t < 4; t++ {
//				s += int32(a[4*q+t]) * int32(b[((j/32)*kq+q)*128+(j%32)*4+t])
//			}
//		}
//		c[j] = s
//	}
//
//go:noescape
func dotVNNI1xN(a *uint8, b *int8, kq, panels, n int, c *int32)

// dotVNNI4xN is dotVNNI1xN for 2 <= rows <= 4 rows of a (stride lda; a
// holds four), row i's products at c[i*ldc:]:
//
//	for i := 0; i < rows; i++ {
//		for j := 0; j < n; j++ {
//			var s int32
//			for q := 0; q < kq; q++ {
//				for t := 0; t < 4; t++ {
//					s += int32(a[i*lda+4*q+t]) * int32(b[((j/32)*kq+q)*128+(j%32)*4+t])
//				}
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
//go:noescape
func dotVNNI4xN(a *uint8, lda int, b *int8, kq, panels, n int, c *int32, ldc, rows int)

// lstm_cell_avx512_amd64.s: the LSTM and SimpleRNN cells.

// lstmCellAVX512 is LSTMCell.Step on u units (see LSTMCell) with the
// tables at tab and the constants at k.
//
//go:noescape
func lstmCellAVX512(z *int16, c *int16, h *int8, u int, tab *int16, k *cellConsts)

// rnnCellAVX512 is LSTMCell.StepRNN on u units.
//
//go:noescape
func rnnCellAVX512(z *int16, h *int8, u int, tab *int16, k *cellConsts)

// gruCellAVX512 is LSTMCell.StepGRU on u units.
//
//go:noescape
func gruCellAVX512(px, pr *int16, h *int8, u int, tab *int16, k *cellConsts)
