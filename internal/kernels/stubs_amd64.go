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

