//go:build amd64 && !noasm

#include "textflag.h"

// The 12x32 AVX-512F tile kernel of f32Gemm12x32AVX512
// (sgemm_kernel_avx512_amd64.s) reading its B micro-panel in place, a row
// of 32 floats every ldb floats, instead of packed: SgemmPacked's product
// with a B that is not copied (sgemm_packed.go). Everything else, the FMAs
// and their order included, is that kernel's, so the results are the
// same bits.

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
#define LDB  AX  // row stride of B in bytes

// One row of the B panel.
#define B0 Z0 // b[p*ldb : p*ldb+16]
#define B1 Z1 // b[p*ldb+16 : p*ldb+32]

// Broadcast values of op(A).
#define T0 Z2
#define T1 Z3
#define T2 Z4
#define T3 Z5
#define T4 Z6
#define T5 Z7

// Accumulators: row i of the tile is C<i>L (columns 0-15) and C<i>H
// (columns 16-31).
#define C0L Z8
#define C0H Z9
#define C1L Z10
#define C1H Z11
#define C2L Z12
#define C2H Z13
#define C3L Z14
#define C3H Z15
#define C4L Z16
#define C4H Z17
#define C5L Z18
#define C5H Z19
#define C6L Z20
#define C6H Z21
#define C7L Z22
#define C7H Z23
#define C8L Z24
#define C8H Z25
#define C9L Z26
#define C9H Z27
#define C10L Z28
#define C10H Z29
#define C11L Z30
#define C11H Z31

// KSTEP(s) does one k step p, with B's row at PB (s is unused: the
// packed kernel's offset), then moves PB to the next row:
//
//	B0, B1 = b[p*ldb : p*ldb+32]
//	for i := 0; i < 12; i++ {
//		t := broadcast(op(A)[i][p])
//		CiL += t * B0
//		CiH += t * B1
//	}
//	A0.. += csa // on to op(A)[.][p+1]
#define KSTEP(s) \
	VMOVUPS (PB), B0; \
	VMOVUPS 64(PB), B1; \
	PREFETCHT0 128(PB); \
	PREFETCHT0 192(PB); \
	ADDQ LDB, PB; \
	VBROADCASTSS (A0), T0; \
	VBROADCASTSS (A0)(RSA*1), T1; \
	VBROADCASTSS (A0)(RSA*2), T2; \
	VBROADCASTSS (A0)(RSA3*1), T3; \
	VBROADCASTSS (A4), T4; \
	VBROADCASTSS (A4)(RSA*1), T5; \
	VFMADD231PS T0, B0, C0L; \
	VFMADD231PS T0, B1, C0H; \
	VFMADD231PS T1, B0, C1L; \
	VFMADD231PS T1, B1, C1H; \
	VFMADD231PS T2, B0, C2L; \
	VFMADD231PS T2, B1, C2H; \
	VFMADD231PS T3, B0, C3L; \
	VFMADD231PS T3, B1, C3H; \
	VFMADD231PS T4, B0, C4L; \
	VFMADD231PS T4, B1, C4H; \
	VFMADD231PS T5, B0, C5L; \
	VFMADD231PS T5, B1, C5H; \
	VBROADCASTSS (A4)(RSA*2), T0; \
	VBROADCASTSS (A4)(RSA3*1), T1; \
	VBROADCASTSS (A8), T2; \
	VBROADCASTSS (A8)(RSA*1), T3; \
	VBROADCASTSS (A8)(RSA*2), T4; \
	VBROADCASTSS (A8)(RSA3*1), T5; \
	VFMADD231PS T0, B0, C6L; \
	VFMADD231PS T0, B1, C6H; \
	VFMADD231PS T1, B0, C7L; \
	VFMADD231PS T1, B1, C7H; \
	VFMADD231PS T2, B0, C8L; \
	VFMADD231PS T2, B1, C8H; \
	VFMADD231PS T3, B0, C9L; \
	VFMADD231PS T3, B1, C9H; \
	VFMADD231PS T4, B0, C10L; \
	VFMADD231PS T4, B1, C10H; \
	VFMADD231PS T5, B0, C11L; \
	VFMADD231PS T5, B1, C11H; \
	ADDQ CSA, A0; \
	ADDQ CSA, A4; \
	ADDQ CSA, A8

// STORE0(lo, hi) writes one row of the tile when beta == 0 (C not read):
//
//	c[0:16], c[16:32] = alpha*lo, alpha*hi
//	PC += ldc
#define STORE0(lo, hi) \
	VMULPS Z0, lo, lo; \
	VMULPS Z0, hi, hi; \
	VMOVUPS lo, (PC); \
	VMOVUPS hi, 64(PC); \
	ADDQ LDC, PC

// STOREB(lo, hi) writes one row of the tile when beta != 0:
//
//	c[0:16] = fma(alpha, lo, beta*c[0:16])
//	c[16:32] = fma(alpha, hi, beta*c[16:32])
//	PC += ldc
#define STOREB(lo, hi) \
	VMULPS (PC), Z1, Z2; \
	VMULPS 64(PC), Z1, Z3; \
	VFMADD231PS Z0, lo, Z2; \
	VFMADD231PS Z0, hi, Z3; \
	VMOVUPS Z2, (PC); \
	VMOVUPS Z3, 64(PC); \
	ADDQ LDC, PC

// func f32Gemm12x32BsAVX512(k int, a *float32, rsa, csa, pfd int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
TEXT ·f32Gemm12x32BsAVX512(SB), NOSPLIT, $0-80
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
	MOVQ ldb+48(FP), LDB
	SHLQ $2, LDB         // LDB = ldb * 4 bytes
	MOVQ c+56(FP), PC    // PC = &c[0]
	MOVQ ldc+64(FP), LDC
	SHLQ $2, LDC         // LDC = ldc * 4 bytes

	// Accumulators = 0.
	VPXORD C0L, C0L, C0L
	VPXORD C0H, C0H, C0H
	VPXORD C1L, C1L, C1L
	VPXORD C1H, C1H, C1H
	VPXORD C2L, C2L, C2L
	VPXORD C2H, C2H, C2H
	VPXORD C3L, C3L, C3L
	VPXORD C3H, C3H, C3H
	VPXORD C4L, C4L, C4L
	VPXORD C4H, C4H, C4H
	VPXORD C5L, C5L, C5L
	VPXORD C5H, C5H, C5H
	VPXORD C6L, C6L, C6L
	VPXORD C6H, C6H, C6H
	VPXORD C7L, C7L, C7L
	VPXORD C7H, C7H, C7H
	VPXORD C8L, C8L, C8L
	VPXORD C8H, C8H, C8H
	VPXORD C9L, C9L, C9L
	VPXORD C9H, C9H, C9H
	VPXORD C10L, C10L, C10L
	VPXORD C10H, C10H, C10H
	VPXORD C11L, C11L, C11L
	VPXORD C11H, C11H, C11H

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
	LEAQ (A4)(PFD*1), TMP // prefetch op(A)[4..7][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	PREFETCHT0 (TMP)(RSA3*1)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	LEAQ (A8)(PFD*1), TMP // prefetch op(A)[8..11][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	PREFETCHT0 (TMP)(RSA3*1)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	SUBQ $12, K
	CMPQ K, $12
	JGE  loop

tail:
	// The remaining k steps, one at a time.
	TESTQ K, K
	JE    store

tail1:
	KSTEP(0)
	DECQ K
	JNE  tail1

store:
	VBROADCASTSS alpha+72(FP), Z0 // Z0 = alpha in every lane
	MOVL beta+76(FP), TMP
	SHLL $1, TMP                   // drop the sign bit: -0 counts as 0
	JNE  storebeta

	// beta == 0: C = alpha*acc, C not read.
	STORE0(C0L, C0H)
	STORE0(C1L, C1H)
	STORE0(C2L, C2H)
	STORE0(C3L, C3H)
	STORE0(C4L, C4H)
	STORE0(C5L, C5H)
	STORE0(C6L, C6H)
	STORE0(C7L, C7H)
	STORE0(C8L, C8H)
	STORE0(C9L, C9H)
	STORE0(C10L, C10H)
	STORE0(C11L, C11H)
	VZEROUPPER
	RET

storebeta:
	// C = alpha*acc + beta*C.
	VBROADCASTSS beta+76(FP), Z1 // Z1 = beta in every lane
	STOREB(C0L, C0H)
	STOREB(C1L, C1H)
	STOREB(C2L, C2H)
	STOREB(C3L, C3H)
	STOREB(C4L, C4H)
	STOREB(C5L, C5H)
	STOREB(C6L, C6H)
	STOREB(C7L, C7H)
	STOREB(C8L, C8H)
	STOREB(C9L, C9H)
	STOREB(C10L, C10H)
	STOREB(C11L, C11H)
	VZEROUPPER
	RET


// func f32PackPanel32AVX512(dst, src *float32, rows, lds int)
TEXT ·f32PackPanel32AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ lds+24(FP), DX
	SHLQ $2, DX
	TESTQ CX, CX
	JLE  pack_done

pack_row:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ DX, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  pack_row

pack_done:
	VZEROUPPER
	RET
