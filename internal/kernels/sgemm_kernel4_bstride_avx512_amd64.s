//go:build amd64 && !noasm

#include "textflag.h"

// The 4x32 AVX-512F tile kernel that SgemmPacked runs on a last tile of
// at most 4 rows (or two of at most 8) of a product whose B it reads in
// place (sgemm_packed.go): the rows of f32Gemm12x32BsAVX512
// (sgemm_kernel_bstride_avx512_amd64.s) that the tile has, with the same
// chain of FMAs and the same store for every element, so the results are
// the same bits, without computing 8 or more rows of zeros.

#define K    CX  // k steps left
#define PB   BX  // row p of the B panel
#define PC   DI  // current row of C
#define LDC  DX  // row stride of C in bytes
#define RSA  R12 // stride of op(A) between rows i, in bytes
#define RSA3 R13 // 3 * RSA
#define CSA  R14 // stride of op(A) between k steps, in bytes
#define A0   R9  // &op(A)[0][p]
#define LDB  AX  // row stride of B in bytes
#define TMP  R8

#define B0 Z0
#define B1 Z1
#define T0 Z2
#define T1 Z3
#define T2 Z4
#define T3 Z5

#define C0L Z8
#define C0H Z9
#define C1L Z10
#define C1H Z11
#define C2L Z12
#define C2H Z13
#define C3L Z14
#define C3H Z15

// KSTEP does one k step p, with B's row at PB, then moves PB and A0 on:
//
//	B0, B1 = b[p*ldb : p*ldb+32]
//	for i := 0; i < 4; i++ {
//		t := broadcast(op(A)[i][p])
//		CiL += t * B0
//		CiH += t * B1
//	}
//
// and prefetches the same row of the next micro-panel (PB+128), which a
// product reading B in place multiplies next.
#define KSTEP \
	VMOVUPS (PB), B0; \
	VMOVUPS 64(PB), B1; \
	PREFETCHT0 128(PB); \
	PREFETCHT0 192(PB); \
	ADDQ LDB, PB; \
	VBROADCASTSS (A0), T0; \
	VBROADCASTSS (A0)(RSA*1), T1; \
	VBROADCASTSS (A0)(RSA*2), T2; \
	VBROADCASTSS (A0)(RSA3*1), T3; \
	ADDQ CSA, A0; \
	VFMADD231PS T0, B0, C0L; \
	VFMADD231PS T0, B1, C0H; \
	VFMADD231PS T1, B0, C1L; \
	VFMADD231PS T1, B1, C1H; \
	VFMADD231PS T2, B0, C2L; \
	VFMADD231PS T2, B1, C2H; \
	VFMADD231PS T3, B0, C3L; \
	VFMADD231PS T3, B1, C3H

// STORE0 and STOREB are f32Gemm12x32BsAVX512's row stores (beta == 0: C
// not read; else c = fma(alpha, acc, beta*c)).
#define STORE0(lo, hi) \
	VMULPS Z0, lo, lo; \
	VMULPS Z0, hi, hi; \
	VMOVUPS lo, (PC); \
	VMOVUPS hi, 64(PC); \
	ADDQ LDC, PC

#define STOREB(lo, hi) \
	VMULPS (PC), Z1, Z2; \
	VMULPS 64(PC), Z1, Z3; \
	VFMADD231PS Z0, lo, Z2; \
	VFMADD231PS Z0, hi, Z3; \
	VMOVUPS Z2, (PC); \
	VMOVUPS Z3, 64(PC); \
	ADDQ LDC, PC

// func f32Gemm4x32BsAVX512(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
TEXT ·f32Gemm4x32BsAVX512(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), K
	MOVQ a+8(FP), A0
	MOVQ rsa+16(FP), RSA
	SHLQ $2, RSA
	MOVQ csa+24(FP), CSA
	SHLQ $2, CSA
	LEAQ (RSA)(RSA*2), RSA3
	MOVQ b+32(FP), PB
	MOVQ ldb+40(FP), LDB
	SHLQ $2, LDB
	MOVQ c+48(FP), PC
	MOVQ ldc+56(FP), LDC
	SHLQ $2, LDC

	VPXORD C0L, C0L, C0L
	VPXORD C0H, C0H, C0H
	VPXORD C1L, C1L, C1L
	VPXORD C1H, C1H, C1H
	VPXORD C2L, C2L, C2L
	VPXORD C2H, C2H, C2H
	VPXORD C3L, C3L, C3L
	VPXORD C3H, C3H, C3H

	// 4 k steps per iteration while K >= 4, then one at a time.
	CMPQ K, $4
	JL   tail

loop:
	KSTEP
	KSTEP
	KSTEP
	KSTEP
	SUBQ $4, K
	CMPQ K, $4
	JGE  loop

tail:
	TESTQ K, K
	JE    store

tail1:
	KSTEP
	DECQ K
	JNE  tail1

store:
	VBROADCASTSS alpha+64(FP), Z0
	MOVL beta+68(FP), TMP
	SHLL $1, TMP // drop the sign bit: -0 counts as 0
	JNE  storebeta
	STORE0(C0L, C0H)
	STORE0(C1L, C1H)
	STORE0(C2L, C2H)
	STORE0(C3L, C3H)
	VZEROUPPER
	RET

storebeta:
	VBROADCASTSS beta+68(FP), Z1
	STOREB(C0L, C0H)
	STOREB(C1L, C1H)
	STOREB(C2L, C2H)
	STOREB(C3L, C3H)
	VZEROUPPER
	RET
