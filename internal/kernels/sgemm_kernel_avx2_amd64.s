//go:build amd64 && !noasm

#include "textflag.h"

// Sgemm's AVX2 path: the 6x16 tile kernel, the 16-wide row kernel and a
// register-only FMA loop that measures the peak (BenchmarkFMAPeak).

// The 6x16 AVX2+FMA micro-kernel of Sgemm. One k step loads a row of the
// packed B micro-panel (16 floats, two Y registers), broadcasts the 6 values
// of a column of op(A), and issues 12 FMAs into 12 accumulators that hold
// the whole 6x16 tile of C. All 16 Y registers are in use: 2 for B, 2 for
// broadcasts, 12 accumulators. op(A) is read through strides, so the same
// kernel runs on a packed micro-panel (rsa = 1, csa = 6) and in place on A
// or its transpose.

// Arguments and pointers.
#define K    CX  // k steps left
#define PB   BX  // packed B, 16 floats per k step
#define PC   DI  // current row of C
#define LDC  DX  // row stride of C in bytes
#define RSA  R12 // stride of op(A) between rows i, in bytes
#define RSA3 R13 // 3 * RSA
#define CSA  R14 // stride of op(A) between k steps, in bytes
#define TMP  R8
#define PFD  SI  // prefetch distance in bytes: op(A) of the next tile
#define A0   R9  // &op(A)[0][p]
#define A3   R10 // &op(A)[3][p]

// One row of packed B.
#define B0 Y0 // b[p*16 : p*16+8]
#define B1 Y1 // b[p*16+8 : p*16+16]

// Broadcast values of op(A).
#define T0 Y2
#define T1 Y3

// Accumulators: row i of the tile is C<i>L (columns 0-7) and C<i>H
// (columns 8-15).
#define C0L Y4
#define C0H Y5
#define C1L Y6
#define C1H Y7
#define C2L Y8
#define C2H Y9
#define C3L Y10
#define C3H Y11
#define C4L Y12
#define C4H Y13
#define C5L Y14
#define C5H Y15

// KSTEP(s) does one k step p, with B's row at PB + s*16 floats:
//
//	B0, B1 = b[p*16 : p*16+16]
//	for i := 0; i < 6; i++ {
//		t := broadcast(op(A)[i][p])
//		CiL += t * B0
//		CiH += t * B1
//	}
//	A0.. += csa // on to op(A)[.][p+1]
#define KSTEP(s) \
	VMOVUPS (s*64)(PB), B0; \
	VMOVUPS (s*64+32)(PB), B1; \
	VBROADCASTSS (A0), T0; \
	VBROADCASTSS (A0)(RSA*1), T1; \
	VFMADD231PS T0, B0, C0L; \
	VFMADD231PS T0, B1, C0H; \
	VFMADD231PS T1, B0, C1L; \
	VFMADD231PS T1, B1, C1H; \
	VBROADCASTSS (A0)(RSA*2), T0; \
	VBROADCASTSS (A3), T1; \
	VFMADD231PS T0, B0, C2L; \
	VFMADD231PS T0, B1, C2H; \
	VFMADD231PS T1, B0, C3L; \
	VFMADD231PS T1, B1, C3H; \
	VBROADCASTSS (A3)(RSA*1), T0; \
	VBROADCASTSS (A3)(RSA*2), T1; \
	VFMADD231PS T0, B0, C4L; \
	VFMADD231PS T0, B1, C4H; \
	VFMADD231PS T1, B0, C5L; \
	VFMADD231PS T1, B1, C5H; \
	ADDQ CSA, A0; \
	ADDQ CSA, A3

// STORE0(lo, hi) writes one row of the tile when beta == 0 (C not read):
//
//	c[0:8], c[8:16] = alpha*lo, alpha*hi
//	PC += ldc
#define STORE0(lo, hi) \
	VMULPS Y0, lo, lo; \
	VMULPS Y0, hi, hi; \
	VMOVUPS lo, (PC); \
	VMOVUPS hi, 32(PC); \
	ADDQ LDC, PC

// STOREB(lo, hi) writes one row of the tile when beta != 0:
//
//	c[0:8] = fma(alpha, lo, beta*c[0:8])
//	c[8:16] = fma(alpha, hi, beta*c[8:16])
//	PC += ldc
#define STOREB(lo, hi) \
	VMULPS (PC), Y1, Y2; \
	VMULPS 32(PC), Y1, Y3; \
	VFMADD231PS Y0, lo, Y2; \
	VFMADD231PS Y0, hi, Y3; \
	VMOVUPS Y2, (PC); \
	VMOVUPS Y3, 32(PC); \
	ADDQ LDC, PC

// func f32Gemm6x16AVX2(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32)
TEXT ·f32Gemm6x16AVX2(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), K      // K = k
	MOVQ a+8(FP), A0     // A0 = &op(A)[0][0]
	MOVQ rsa+16(FP), RSA
	SHLQ $2, RSA         // RSA = rsa * 4 bytes
	MOVQ csa+24(FP), CSA
	SHLQ $2, CSA         // CSA = csa * 4 bytes
	MOVQ pfd+32(FP), PFD
	SHLQ $2, PFD         // PFD = pfd * 4 bytes
	LEAQ (RSA)(RSA*2), RSA3 // RSA3 = 3 * RSA
	LEAQ (A0)(RSA3*1), A3  // A3 = &op(A)[3][0]
	MOVQ b+40(FP), PB    // PB = &b[0]
	MOVQ c+48(FP), PC    // PC = &c[0]
	MOVQ ldc+56(FP), LDC
	SHLQ $2, LDC         // LDC = ldc * 4 bytes

	// Accumulators = 0.
	VXORPS C0L, C0L, C0L
	VXORPS C0H, C0H, C0H
	VXORPS C1L, C1L, C1L
	VXORPS C1H, C1H, C1H
	VXORPS C2L, C2L, C2L
	VXORPS C2H, C2H, C2H
	VXORPS C3L, C3L, C3L
	VXORPS C3H, C3H, C3H
	VXORPS C4L, C4L, C4L
	VXORPS C4H, C4H, C4H
	VXORPS C5L, C5L, C5L
	VXORPS C5H, C5H, C5H

	// 8 k steps per iteration while K >= 8, prefetching the rows of
	// op(A) that the next tile will read, pfd floats on, one group of
	// rows per 4 steps.
	CMPQ K, $8
	JL   tail

loop:
	LEAQ (A0)(PFD*1), TMP // prefetch op(A)[0..2][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	ADDQ $256, PB // PB += 4*16 floats
	LEAQ (A3)(PFD*1), TMP // prefetch op(A)[3..5][p] + pfd
	PREFETCHT0 (TMP)
	PREFETCHT0 (TMP)(RSA*1)
	PREFETCHT0 (TMP)(RSA*2)
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	ADDQ $256, PB // PB += 4*16 floats
	SUBQ $8, K
	CMPQ K, $8
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
	VBROADCASTSS alpha+64(FP), Y0 // Y0 = alpha in every lane
	MOVL beta+68(FP), TMP
	SHLL $1, TMP                   // drop the sign bit: -0 counts as 0
	JNE  storebeta

	// beta == 0: C = alpha*acc, C not read.
	STORE0(C0L, C0H)
	STORE0(C1L, C1H)
	STORE0(C2L, C2H)
	STORE0(C3L, C3H)
	STORE0(C4L, C4H)
	STORE0(C5L, C5H)
	VZEROUPPER
	RET

storebeta:
	// C = alpha*acc + beta*C.
	VBROADCASTSS beta+68(FP), Y1 // Y1 = beta in every lane
	STOREB(C0L, C0H)
	STOREB(C1L, C1H)
	STOREB(C2L, C2H)
	STOREB(C3L, C3H)
	STOREB(C4L, C4H)
	STOREB(C5L, C5H)
	VZEROUPPER
	RET

// func fmaPeakAVX2(n int)
TEXT ·fmaPeakAVX2(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), K
	VXORPS Y0, Y0, Y0 // x = 0
	VXORPS Y1, Y1, Y1 // y = 0
	VXORPS C0L, C0L, C0L
	VXORPS C0H, C0H, C0H
	VXORPS C1L, C1L, C1L
	VXORPS C1H, C1H, C1H
	VXORPS C2L, C2L, C2L
	VXORPS C2H, C2H, C2H
	VXORPS C3L, C3L, C3L
	VXORPS C3H, C3H, C3H
	VXORPS C4L, C4L, C4L
	VXORPS C4H, C4H, C4H
	VXORPS C5L, C5L, C5L
	VXORPS C5H, C5H, C5H
	TESTQ K, K
	JLE   peakdone

peakloop:
	VFMADD231PS Y0, Y1, C0L // C0L += x*y
	VFMADD231PS Y0, Y1, C0H // C0H += x*y
	VFMADD231PS Y0, Y1, C1L // C1L += x*y
	VFMADD231PS Y0, Y1, C1H // C1H += x*y
	VFMADD231PS Y0, Y1, C2L // C2L += x*y
	VFMADD231PS Y0, Y1, C2H // C2H += x*y
	VFMADD231PS Y0, Y1, C3L // C3L += x*y
	VFMADD231PS Y0, Y1, C3H // C3H += x*y
	VFMADD231PS Y0, Y1, C4L // C4L += x*y
	VFMADD231PS Y0, Y1, C4H // C4H += x*y
	VFMADD231PS Y0, Y1, C5L // C5L += x*y
	VFMADD231PS Y0, Y1, C5H // C5H += x*y
	DECQ K
	JNE  peakloop

peakdone:
	VZEROUPPER
	RET

// The row kernel of Sgemm's AVX2 path, for op(A) with fewer rows than a
// tile: one row of C, up to 16 columns, B read in place (not packed) with
// masked loads past column n.

// Arguments and pointers.
#define VK   CX // k steps left
#define VPA  AX // &op(A)[i][p]
#define VCSA R8 // stride of op(A) between k steps, in bytes
#define VPB  BX // &op(B)[p][0]
#define VLDB DX // row stride of B in bytes
#define VPC  DI // &c[0]
#define VM0  Y12 // lane mask of columns 0-7 (all bits set = in)
#define VM1  Y13 // lane mask of columns 8-15

// VSTEP(lo, hi) does one k step into one phase of accumulators, masked to
// the n columns:
//
//	t := broadcast(op(A)[i][p])
//	lo += t * b[p*ldb : p*ldb+8]
//	hi += t * b[p*ldb+8 : p*ldb+16]
//	p++
#define VSTEP(lo, hi) \
	VBROADCASTSS (VPA), Y8; \
	VMASKMOVPS (VPB), VM0, Y9; \
	VMASKMOVPS 32(VPB), VM1, Y10; \
	VFMADD231PS Y8, Y9, lo; \
	VFMADD231PS Y8, Y10, hi; \
	ADDQ VCSA, VPA; \
	ADDQ VLDB, VPB

// func f32Row16AVX2(k int, a *float32, csa int, b *float32, ldb int, mask *[16]int32, c *float32, alpha, beta float32)
TEXT ·f32Row16AVX2(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), VK
	MOVQ a+8(FP), VPA
	MOVQ csa+16(FP), VCSA
	SHLQ $2, VCSA         // VCSA = csa * 4 bytes
	MOVQ b+24(FP), VPB
	MOVQ ldb+32(FP), VLDB
	SHLQ $2, VLDB         // VLDB = ldb * 4 bytes
	MOVQ mask+40(FP), R9
	VMOVDQU (R9), VM0     // VM0 = mask[0:8]
	VMOVDQU 32(R9), VM1   // VM1 = mask[8:16]
	MOVQ c+48(FP), VPC

	// Four phases of accumulators, so that four k steps are in flight.
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ VK, $4
	JL   vtail

vloop:
	VSTEP(Y0, Y1) // step p+0 into phase 0
	VSTEP(Y2, Y3) // step p+1 into phase 1
	VSTEP(Y4, Y5) // step p+2 into phase 2
	VSTEP(Y6, Y7) // step p+3 into phase 3
	SUBQ $4, VK
	CMPQ VK, $4
	JGE  vloop

vtail:
	TESTQ VK, VK
	JE    vsum

vtail1:
	VSTEP(Y0, Y1) // the last 1-3 steps into phase 0
	DECQ VK
	JNE  vtail1

vsum:
	// acc = (phase0 + phase1) + (phase2 + phase3), always in this order.
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	VADDPS Y6, Y4, Y4
	VADDPS Y7, Y5, Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VBROADCASTSS alpha+56(FP), Y8 // Y8 = alpha
	MOVL beta+60(FP), R9
	SHLL $1, R9                   // drop the sign bit: -0 counts as 0
	JNE  vbeta
	VMULPS Y8, Y0, Y0             // c = alpha*acc, c not read
	VMULPS Y8, Y1, Y1
	JMP  vstore

vbeta:
	VBROADCASTSS beta+60(FP), Y9 // Y9 = beta
	VMASKMOVPS (VPC), VM0, Y10
	VMASKMOVPS 32(VPC), VM1, Y11
	VMULPS Y9, Y10, Y10          // beta*c
	VMULPS Y9, Y11, Y11
	VFMADD231PS Y8, Y0, Y10      // c = fma(alpha, acc, beta*c)
	VFMADD231PS Y8, Y1, Y11
	VMOVAPS Y10, Y0
	VMOVAPS Y11, Y1

vstore:
	VMASKMOVPS Y0, VM0, (VPC) // c[0:8] under mask VM0
	VMASKMOVPS Y1, VM1, 32(VPC)
	VZEROUPPER
	RET
