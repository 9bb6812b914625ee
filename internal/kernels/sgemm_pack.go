package kernels

import "sync/atomic"

// Packing: copy a block of op(A) or op(B) into the contiguous layout the
// micro-kernels read, handling the transposes here so that the kernels see
// one layout for all four combinations. B is always packed (but by the row
// kernels); op(A) is read in place, except for partial micro-panels and,
// when C is wide enough for a packed micro-panel to be reused a few times,
// for row strides that would make its rows collide in the L1 cache (see
// setConflict). Rows or columns past the matrix edge are filled with
// zeros, so edge tiles run the same kernel as full ones.

// packPanelCalls counts the micro-panels packB copied with
// f32PackPanel32AVX512 (the test fails if the AVX512 path never did).
var packPanelCalls atomic.Int64

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
		// op(A) row i is stored as a row: transpose four rows at a time,
		// then scatter the rest with stride mr.
		i := 0
		for ; i+4 <= rows; i += 4 {
			o := (i0+ir+i)*lda + p0
			s0 := a[o : o+kc]
			s1 := a[o+lda : o+lda+kc]
			s2 := a[o+2*lda : o+2*lda+kc]
			s3 := a[o+3*lda : o+3*lda+kc]
			transpose4(d[i:], mr, s0, s1, s2, s3)
		}
		for ; i < rows; i++ {
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
			if nr == 32 && cols == 32 && kc > 0 && ActivePath() == AVX512 {
				packPanelCalls.Add(1)
				_ = b[(p0+kc-1)*ldb+j0+jr+31]
				f32PackPanel32AVX512(&d[0], &b[p0*ldb+j0+jr], kc, ldb)
				continue
			}
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				dp := d[p*nr : p*nr+nr : p*nr+nr]
				copyPad(dp, src[:cols:cols])
			}
			continue
		}
		// op(B) column j is stored as a row: transpose four rows at a
		// time, then scatter the rest with stride nr.
		j := 0
		for ; j+4 <= cols; j += 4 {
			o := (j0+jr+j)*ldb + p0
			s0 := b[o : o+kc]
			s1 := b[o+ldb : o+ldb+kc]
			s2 := b[o+2*ldb : o+2*ldb+kc]
			s3 := b[o+3*ldb : o+3*ldb+kc]
			transpose4(d[j:], nr, s0, s1, s2, s3)
		}
		for ; j < cols; j++ {
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

// transpose4 writes s0[p], s1[p], s2[p], s3[p] to dst[p*stride : p*stride+4]
// for every p; the four slices have the same length.
func transpose4(dst []float32, stride int, s0, s1, s2, s3 []float32) {
	n := len(s0)
	if n == 0 {
		return
	}
	s1, s2, s3 = s1[:n], s2[:n], s3[:n]
	_ = dst[(n-1)*stride+3]
	for p, v := range s0 {
		d := dst[p*stride : p*stride+4 : p*stride+4]
		d[0], d[1], d[2], d[3] = v, s1[p], s2[p], s3[p]
	}
}

// setConflict reports whether rows of stride ld floats, read in place,
// would put more than 8 of their first rows (the rows of a micro-panel of
// op(A) and of the next one, which the kernels prefetch, 2*mr in all) in
// one set of an L1 data cache of 64 sets of 64-byte lines (every current
// x86 core: 32 KiB 8-way, 48 KiB 12-way), evicting each other: ld a
// multiple of 1024 floats, say.
func setConflict(ld, rows int) bool {
	const maxPerSet = 8
	var count [64]int
	for r := 0; r < rows; r++ {
		s := r * ld * 4 / 64 % 64
		if count[s]++; count[s] > maxPerSet {
			return true
		}
	}
	return false
}
