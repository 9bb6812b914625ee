package kernels

import "unsafe"

// Row kernels: when op(A) has fewer rows than a tile and B is not
// transposed, a tile would waste most of its rows and packing B would cost
// as much as the product itself (a matrix-vector product at batch 1, say).
// Sgemm then computes C one row at a time, rw columns per call, reading A
// and B in place.

// rowKernel computes columns [0, n) (n <= the kernel's width) of one row of
// C, C = alpha*op(A)*op(B) + beta*C, from op(A)[i][p] = a[p*csa] and
// op(B)[p][j] = b[p*ldb+j]; C is not read when beta == 0. The loop is the
// one in the doc of f32Row32AVX512: four phases of partial sums, added in a
// fixed order.
type rowKernel func(k int, a *float32, csa int, b *float32, ldb, n int, c *float32, alpha, beta float32)

// rowAVX512 is the AVX-512 row kernel, 32 columns wide.
func rowAVX512(k int, a *float32, csa int, b *float32, ldb, n int, c *float32, alpha, beta float32) {
	f32Row32AVX512(k, a, csa, b, ldb, 1<<n-1, c, alpha, beta)
}

// rowMasks16[n] has its first n lanes set: the masks of rowAVX2.
var rowMasks16 = func() (m [17][16]int32) {
	for n := range m {
		for j := 0; j < n; j++ {
			m[n][j] = -1
		}
	}
	return m
}()

// rowAVX2 is the AVX2 row kernel, 16 columns wide.
func rowAVX2(k int, a *float32, csa int, b *float32, ldb, n int, c *float32, alpha, beta float32) {
	f32Row16AVX2(k, a, csa, b, ldb, &rowMasks16[n], c, alpha, beta)
}

// rowGeneric is the pure-Go row kernel, up to 32 columns wide (the Generic
// path uses 16).
func rowGeneric(k int, a *float32, csa int, b *float32, ldb, n int, c *float32, alpha, beta float32) {
	as := unsafe.Slice(a, (k-1)*csa+1)
	bs := unsafe.Slice(b, (k-1)*ldb+n)
	cs := unsafe.Slice(c, n)
	var acc [4][32]float32
	k4 := k &^ 3
	for p := 0; p < k; p++ {
		q := &acc[p&3]
		if p >= k4 {
			q = &acc[0]
		}
		av := as[p*csa]
		row := bs[p*ldb : p*ldb+n]
		for j, bv := range row {
			q[j] += av * bv
		}
	}
	for j := range cs {
		s := (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j])
		if beta == 0 {
			cs[j] = alpha * s
		} else {
			cs[j] = alpha*s + beta*cs[j]
		}
	}
}

// runRows computes rows [m0, m1) and columns [n0, n1) of C with the row
// kernel; n0 is a multiple of the kernel's width.
func (j *gemmJob) runRows(m0, m1, n0, n1 int) {
	ks := j.ks
	for i := m0; i < m1; i++ {
		var ap *float32
		var csa int
		if j.transA {
			ap, csa = &j.a[i], j.lda
		} else {
			ap, csa = &j.a[i*j.lda], 1
		}
		for jb := n0; jb < n1; jb += ks.rw {
			ks.row(j.k, ap, csa, &j.b[jb], j.ldb, min(ks.rw, n1-jb), &j.c[i*j.ldc+jb], j.alpha, j.beta)
		}
	}
}
