package kernels

// Packing: copy a block of op(A) or op(B) into the contiguous layout the
// micro-kernels read, handling the transposes here so that the kernels see
// one layout for all four combinations. Rows or columns past the matrix edge
// are filled with zeros, so edge tiles run the same kernel as full ones.

// packA packs rows [i0, i0+mc) and depths [p0, p0+kc) of op(A) into dst as
// ceil(mc/mr) micro-panels of mr*kc values each:
//
//	dst[(ir/mr)*mr*kc + p*mr + i] = op(A)[i0+ir+i][p0+p]  (0 past row i0+mc)
//
// where op(A)[i][p] is a[i*lda+p], or a[p*lda+i] when transA.
func packA(dst, a []float32, lda int, transA bool, i0, mc, p0, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : ir*kc+mr*kc]
		if transA {
			// op(A) column p is stored as a row: mr contiguous values per p.
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				dp := d[p*mr : p*mr+mr : p*mr+mr]
				copyPad(dp, src[:rows:rows])
			}
			continue
		}
		// op(A) row i is stored as a row: scatter it with stride mr.
		for i := 0; i < rows; i++ {
			src := a[(i0+ir+i)*lda+p0 : (i0+ir+i)*lda+p0+kc]
			scatter(d[i:], src, mr)
		}
		for i := rows; i < mr; i++ {
			for p := 0; p < kc; p++ {
				d[p*mr+i] = 0
			}
		}
	}
}

// packB packs depths [p0, p0+kc) and columns [j0, j0+nc) of op(B) into dst
// as ceil(nc/nr) micro-panels of nr*kc values each:
//
//	dst[(jr/nr)*nr*kc + p*nr + j] = op(B)[p0+p][j0+jr+j]  (0 past column j0+nc)
//
// where op(B)[p][j] is b[p*ldb+j], or b[j*ldb+p] when transB.
func packB(dst, b []float32, ldb int, transB bool, p0, kc, j0, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : jr*kc+nr*kc]
		if !transB {
			// op(B) row p is stored as a row: nr contiguous values per p.
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				dp := d[p*nr : p*nr+nr : p*nr+nr]
				copyPad(dp, src[:cols:cols])
			}
			continue
		}
		// op(B) column j is stored as a row: scatter it with stride nr.
		for j := 0; j < cols; j++ {
			src := b[(j0+jr+j)*ldb+p0 : (j0+jr+j)*ldb+p0+kc]
			scatter(d[j:], src, nr)
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < kc; p++ {
				d[p*nr+j] = 0
			}
		}
	}
}

// copyPad copies src into the start of dst and zeroes the rest of dst.
func copyPad(dst, src []float32) {
	if len(src) == len(dst) {
		copy(dst, src)
		return
	}
	n := copy(dst, src)
	clear(dst[n:])
}

// scatter writes src[p] to dst[p*stride] for every p.
func scatter(dst, src []float32, stride int) {
	if len(src) == 0 {
		return
	}
	_ = dst[(len(src)-1)*stride]
	for p, v := range src {
		dst[p*stride] = v
	}
}
