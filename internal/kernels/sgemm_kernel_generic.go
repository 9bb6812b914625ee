package kernels

import "unsafe"

// f32Gemm4x4Generic is the pure-Go micro-kernel of the Generic path: it
// computes one 4x4 tile of C from op(A), read in place through strides
// (op(A)[i][p] = a[i*rsa+p*csa]: a packed micro-panel has rsa = 1, csa = 4),
// and a packed B micro-panel (b[p*4+j] = op(B)[p][j]):
//
//	for i := 0; i < 4; i++ {
//		for j := 0; j < 4; j++ {
//			var acc float32
//			for p := 0; p < k; p++ {
//				acc += a[i*rsa+p*csa] * b[p*4+j]
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * acc // c is not read
//			} else {
//				c[i*ldc+j] = alpha*acc + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// The 16 accumulators are locals so that the compiler keeps them in
// registers. The fifth argument, the prefetch distance of the assembly
// kernels, is unused. k must be at least 1, b must hold 4*k values, and c 3*ldc+4.
func f32Gemm4x4Generic(k int, a *float32, rsa, csa, _ int, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, 3*rsa+(k-1)*csa+1)
	bs := unsafe.Slice(b, 4*k)
	r0, r1, r2, r3 := as, as[rsa:], as[2*rsa:], as[3*rsa:]
	var (
		c00, c01, c02, c03 float32
		c10, c11, c12, c13 float32
		c20, c21, c22, c23 float32
		c30, c31, c32, c33 float32
	)
	for p, o := 0, 0; p < len(bs); p, o = p+4, o+csa {
		bp := bs[p : p+4 : p+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := r0[o]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := r1[o]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := r2[o]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := r3[o]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := range acc {
		row := cs[i*ldc : i*ldc+4 : i*ldc+4]
		if beta == 0 {
			for j, v := range acc[i] {
				row[j] = alpha * v
			}
		} else {
			for j, v := range acc[i] {
				row[j] = alpha*v + beta*row[j]
			}
		}
	}
}
