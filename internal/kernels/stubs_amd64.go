//go:build amd64 && !noasm

package kernels

import "golang.org/x/sys/cpu"

// CPU features the assembly paths need, read once by x/sys/cpu (which also
// checks that the OS saves the Y and Z register state).
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512F = cpu.X86.HasAVX512F
)

// f32Gemm12x32AVX512 computes one 12x32 tile of C from op(A), read in place
// through strides (op(A)[i][p] = a[i*rsa+p*csa]: a packed micro-panel has
// rsa = 1, csa = 12), and a packed B micro-panel (b[p*32+j] = op(B)[p][j]),
// with AVX-512F:
//
//	for i := 0; i < 12; i++ {
//		for j := 0; j < 32; j++ {
//			var acc float32
//			for p := 0; p < k; p++ {
//				acc = fma(a[i*rsa+p*csa], b[p*32+j], acc)
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * acc // c is not read
//			} else {
//				c[i*ldc+j] = fma(alpha, acc, beta*c[i*ldc+j])
//			}
//		}
//	}
//
// While it runs, it prefetches op(A) at a+pfd, the values the next tile
// will read. k must be at least 1, b must hold 32*k values, and c
// 11*ldc+32.
//
//go:noescape
func f32Gemm12x32AVX512(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32)

// f32Gemm6x16AVX2 computes one 6x16 tile of C from op(A), read in place
// through strides (op(A)[i][p] = a[i*rsa+p*csa]: a packed micro-panel has
// rsa = 1, csa = 6), and a packed B micro-panel (b[p*16+j] = op(B)[p][j]),
// with AVX2 and FMA:
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var acc float32
//			for p := 0; p < k; p++ {
//				acc = fma(a[i*rsa+p*csa], b[p*16+j], acc)
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * acc // c is not read
//			} else {
//				c[i*ldc+j] = fma(alpha, acc, beta*c[i*ldc+j])
//			}
//		}
//	}
//
// While it runs, it prefetches op(A) at a+pfd, the values the next tile
// will read. k must be at least 1, b must hold 16*k values, and c
// 5*ldc+16.
//
//go:noescape
func f32Gemm6x16AVX2(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32)

// fmaPeakAVX512 runs n iterations of 24 independent AVX-512 FMAs on
// registers only (768 flops per iteration), to measure the core's peak:
//
//	for i := 0; i < n; i++ {
//		for r := 0; r < 24; r++ {
//			acc[r] = fma(x, y, acc[r]) // 16 lanes each
//		}
//	}
//
//go:noescape
func fmaPeakAVX512(n int)

// fmaPeakAVX2 runs n iterations of 12 independent AVX2 FMAs on registers
// only (192 flops per iteration), the AVX2 counterpart of fmaPeakAVX512:
//
//	for i := 0; i < n; i++ {
//		for r := 0; r < 12; r++ {
//			acc[r] = fma(x, y, acc[r]) // 8 lanes each
//		}
//	}
//
//go:noescape
func fmaPeakAVX2(n int)

// f32Row32AVX512 computes up to 32 columns of one row of C, for op(A) with
// fewer rows than a tile, reading B in place: op(A)[i][p] = a[p*csa] and
// op(B)[p][j] = b[p*ldb+j], and column j is computed only if bit j of mask
// is set (mask = 1<<n - 1 for n columns; B and c are not touched past them):
//
//	for j := 0; j < 32; j++ {
//		if mask&(1<<j) == 0 {
//			continue
//		}
//		var acc [4]float32 // four phases, p%4, so that FMAs overlap
//		for p := 0; p < k; p++ {
//			q := p % 4
//			if p >= k&^3 {
//				q = 0 // the last k%4 steps go to phase 0
//			}
//			acc[q] = fma(a[p*csa], b[p*ldb+j], acc[q])
//		}
//		s := (acc[0] + acc[1]) + (acc[2] + acc[3])
//		if beta == 0 {
//			c[j] = alpha * s // c is not read
//		} else {
//			c[j] = fma(alpha, s, beta*c[j])
//		}
//	}
//
//go:noescape
func f32Row32AVX512(k int, a *float32, csa int, b *float32, ldb, mask int, c *float32, alpha, beta float32)

// f32Row16AVX2 is the AVX2 counterpart of f32Row32AVX512 for up to 16
// columns: column j is computed only if mask[j] is -1 (all bits set), and
// the loop is the one in the doc of f32Row32AVX512 with 32 replaced by 16.
//
//go:noescape
func f32Row16AVX2(k int, a *float32, csa int, b *float32, ldb int, mask *[16]int32, c *float32, alpha, beta float32)

// f32Gemm12x16AVX512 is f32Gemm12x32AVX512 for a 12x16 tile (a packed B
// micro-panel of 16 columns, b[p*16+j] = op(B)[p][j]), the AVX-512 path's
// kernel for matrices of at most 16 columns: the same chain of FMAs and
// the same store for every element.
//
//go:noescape
func f32Gemm12x16AVX512(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32)
