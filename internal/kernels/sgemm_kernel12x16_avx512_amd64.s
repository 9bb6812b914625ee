//go:build amd64 && !noasm

#include "textflag.h"

// The 12x16 AVX-512F micro-kernel of Sgemm, for matrices of at most 16
// columns (a 32-wide tile would leave half its lanes idle): the 12x32
// kernel (sgemm_kernel_avx512_amd64.s) with one Z register of B per k
// step and 12 accumulators, one per row of the tile. Each element of C is
// the same chain of FMAs over k, stored the same way, as in the 12x32 and
// the AVX2 6x16 kernels, so the values do not depend on the tile.

// Arguments and pointers.
#define K    CX  // k steps left
#define PB   BX  // packed B, 32 floats per k step
#define PC   DI  // current row of C
#define LDC  DX  // row stride of C in bytes
#define RSA  R12 // stride of op(A) between rows i, in bytes
#define RSA3 R13 // 3 * RSA
#define CSA  R14 // stride of op(A) between k steps, in bytes
#define TMP  R8
#define PFD  SI  // prefetch distance in bytes: op(A) of the next tile
#define A0   R9  // &op(A)[0][p]
#define A4   R10 // &op(A)[4][p]
#define A8   R11 // &op(A)[8][p]

// One row of packed B.
#define B0 Z0 // b[p*16 : p*16+16]

// Broadcast values of op(A).
#define T0 Z2
#define T1 Z3
#define T2 Z4
#define T3 Z5
#define T4 Z6
#define T5 Z7

// Accumulators: row i of the tile is C<i>L.
#define C0L Z8
#define C1L Z9
#define C2L Z10
#define C3L Z11
#define C4L Z12
#define C5L Z13
#define C6L Z14
#define C7L Z15
#define C8L Z16
#define C9L Z17
#define C10L Z18
#define C11L Z19

// KSTEP(s) does one k step p, with B's row at PB + s*32 floats:
//
//	B0 = b[p*16 : p*16+16]
//	for i := 0; i < 12; i++ {
//		t := broadcast(op(A)[i][p])
//		CiL += t * B0
//	}
//	A0.. += csa // on to op(A)[.][p+1]
#define KSTEP(s) \
	VMOVUPS (s*64)(PB), B0; \
	VBROADCASTSS (A0), T0; \
	VBROADCASTSS (A0)(RSA*1), T1; \
	VBROADCASTSS (A0)(RSA*2), T2; \
	VBROADCASTSS (A0)(RSA3*1), T3; \
	VBROADCASTSS (A4), T4; \
	VBROADCASTSS (A4)(RSA*1), T5; \
	VFMADD231PS T0, B0, C0L; \
	VFMADD231PS T1, B0, C1L; \
	VFMADD231PS T2, B0, C2L; \
	VFMADD231PS T3, B0, C3L; \
	VFMADD231PS T4, B0, C4L; \
	VFMADD231PS T5, B0, C5L; \
	VBROADCASTSS (A4)(RSA*2), T0; \
	VBROADCASTSS (A4)(RSA3*1), T1; \
	VBROADCASTSS (A8), T2; \
	VBROADCASTSS (A8)(RSA*1), T3; \
	VBROADCASTSS (A8)(RSA*2), T4; \
	VBROADCASTSS (A8)(RSA3*1), T5; \
	VFMADD231PS T0, B0, C6L; \
	VFMADD231PS T1, B0, C7L; \
	VFMADD231PS T2, B0, C8L; \
	VFMADD231PS T3, B0, C9L; \
	VFMADD231PS T4, B0, C10L; \
	VFMADD231PS T5, B0, C11L; \
	ADDQ CSA, A0; \
	ADDQ CSA, A4; \
	ADDQ CSA, A8

// STORE0(lo) writes one row of the tile when beta == 0 (C not read):
//
//	c[0:16] = alpha*lo
//	PC += ldc
#define STORE0(lo) \
	VMULPS Z0, lo, lo; \
	VMOVUPS lo, (PC); \
	ADDQ LDC, PC

// STOREB(lo) writes one row of the tile when beta != 0:
//
//	c[0:16] = fma(alpha, lo, beta*c[0:16])
//	PC += ldc
#define STOREB(lo) \
	VMULPS (PC), Z1, Z2; \
	VFMADD231PS Z0, lo, Z2; \
	VMOVUPS Z2, (PC); \
	ADDQ LDC, PC

// func f32Gemm12x16AVX512(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32)
TEXT ·f32Gemm12x16AVX512(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), K      // K = k
	MOVQ a+8(FP), A0     // A0 = &op(A)[0][0]
	MOVQ rsa+16(FP), RSA
	SHLQ $2, RSA         // RSA = rsa * 4 bytes
	MOVQ csa+24(FP), CSA
	SHLQ $2, CSA         // CSA = csa * 4 bytes
	MOVQ pfd+32(FP), PFD
	SHLQ $2, PFD         // PFD = pfd * 4 bytes
	LEAQ (RSA)(RSA*2), RSA3 // RSA3 = 3 * RSA
	LEAQ (A0)(RSA*4), A4   // A4 = &op(A)[4][0]
	LEAQ (A4)(RSA*4), A8   // A8 = &op(A)[8][0]
	MOVQ b+40(FP), PB    // PB = &b[0]
	MOVQ c+48(FP), PC    // PC = &c[0]
	MOVQ ldc+56(FP), LDC
	SHLQ $2, LDC         // LDC = ldc * 4 bytes

	// Accumulators = 0.
	VPXORD C0L, C0L, C0L
	VPXORD C1L, C1L, C1L
	VPXORD C2L, C2L, C2L
	VPXORD C3L, C3L, C3L
	VPXORD C4L, C4L, C4L
	VPXORD C5L, C5L, C5L
	VPXORD C6L, C6L, C6L
	VPXORD C7L, C7L, C7L
	VPXORD C8L, C8L, C8L
	VPXORD C9L, C9L, C9L
	VPXORD C10L, C10L, C10L
	VPXORD C11L, C11L, C11L

	// 12 k steps per iteration while K >= 12, prefetching the rows of
	// op(A) that the next tile will read, pfd floats on, one group of
	// rows per 4 steps.
	CMPQ K, $12
	JL   tail

loop:
	LEAQ (A0)(PFD*1), TMP // prefetch op(A)[0..3][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	PREFETCHT0 (TMP)(RSA3*1)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	ADDQ $256, PB // PB += 4*16 floats
	LEAQ (A4)(PFD*1), TMP // prefetch op(A)[4..7][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	PREFETCHT0 (TMP)(RSA3*1)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	ADDQ $256, PB // PB += 4*16 floats
	LEAQ (A8)(PFD*1), TMP // prefetch op(A)[8..11][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	PREFETCHT0 (TMP)(RSA3*1)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	ADDQ $256, PB // PB += 4*16 floats
	SUBQ $12, K
	CMPQ K, $12
	JGE  loop

tail:
	// The remaining k steps, one at a time.
	TESTQ K, K
	JE    store

tail1:
	KSTEP(0)
	ADDQ $64, PB // PB += 16 floats
	DECQ K
	JNE  tail1

store:
	VBROADCASTSS alpha+64(FP), Z0 // Z0 = alpha in every lane
	MOVL beta+68(FP), TMP
	SHLL $1, TMP                   // drop the sign bit: -0 counts as 0
	JNE  storebeta

	// beta == 0: C = alpha*acc, C not read.
	STORE0(C0L)
	STORE0(C1L)
	STORE0(C2L)
	STORE0(C3L)
	STORE0(C4L)
	STORE0(C5L)
	STORE0(C6L)
	STORE0(C7L)
	STORE0(C8L)
	STORE0(C9L)
	STORE0(C10L)
	STORE0(C11L)
	VZEROUPPER
	RET

storebeta:
	// C = alpha*acc + beta*C.
	VBROADCASTSS beta+68(FP), Z1 // Z1 = beta in every lane
	STOREB(C0L)
	STOREB(C1L)
	STOREB(C2L)
	STOREB(C3L)
	STOREB(C4L)
	STOREB(C5L)
	STOREB(C6L)
	STOREB(C7L)
	STOREB(C8L)
	STOREB(C9L)
	STOREB(C10L)
	STOREB(C11L)
	VZEROUPPER
	RET
