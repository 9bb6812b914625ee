//go:build amd64 && !noasm

#include "textflag.h"

// Row pointers of a 12-row activation tile: SI, R10, R11 and R12 hold rows
// 0, 3, 6 and 9; R8 is the row stride (rows 1, 2 at (SI)(R8*1),
// (SI)(R8*2), and so on).
#define TILE_ROWS \
	LEAQ (R8)(R8*2), R9; \
	LEAQ (SI)(R9*1), R10; \
	LEAQ (R10)(R9*1), R11; \
	LEAQ (R11)(R9*1), R12

#define TILE_NEXT_K \
	ADDQ $4, SI; \
	ADDQ $4, R10; \
	ADDQ $4, R11; \
	ADDQ $4, R12; \
	ADDQ $128, DI

// DOT2(row, bc, a0, a1): row's four activation bytes broadcast into bc and
// multiplied into accumulators a0 (columns 0-15, weights Z24) and a1
// (columns 16-31, Z25).
#define DOT2(row, bc, a0, a1) \
	VPBROADCASTD row, bc; \
	VPDPBUSD Z24, bc, a0; \
	VPDPBUSD Z25, bc, a1

// DOT1(row, bc, a0): DOT2 for the first 16 columns only.
#define DOT1(row, bc, a0) \
	VPBROADCASTD row, bc; \
	VPDPBUSD Z24, bc, a0

// ZERO_ACC12 and ZERO_ACC24 clear the accumulators Z0-Z11 or Z0-Z23.
#define ZERO_ACC12 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11

#define ZERO_ACC24 \
	ZERO_ACC12; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

// DOT_12x32: one k group of the 12x32 tile (its weights in Z24, Z25).
#define DOT_12x32 \
	DOT2((SI), Z26, Z0, Z1); \
	DOT2((SI)(R8*1), Z27, Z2, Z3); \
	DOT2((SI)(R8*2), Z28, Z4, Z5); \
	DOT2((R10), Z29, Z6, Z7); \
	DOT2((R10)(R8*1), Z30, Z8, Z9); \
	DOT2((R10)(R8*2), Z31, Z10, Z11); \
	DOT2((R11), Z26, Z12, Z13); \
	DOT2((R11)(R8*1), Z27, Z14, Z15); \
	DOT2((R11)(R8*2), Z28, Z16, Z17); \
	DOT2((R12), Z29, Z18, Z19); \
	DOT2((R12)(R8*1), Z30, Z20, Z21); \
	DOT2((R12)(R8*2), Z31, Z22, Z23)

// DOT_12x16: one k group of the 12x16 tile (its weights in Z24).
#define DOT_12x16 \
	DOT1((SI), Z26, Z0); \
	DOT1((SI)(R8*1), Z27, Z1); \
	DOT1((SI)(R8*2), Z28, Z2); \
	DOT1((R10), Z29, Z3); \
	DOT1((R10)(R8*1), Z30, Z4); \
	DOT1((R10)(R8*2), Z31, Z5); \
	DOT1((R11), Z26, Z6); \
	DOT1((R11)(R8*1), Z27, Z7); \
	DOT1((R11)(R8*2), Z28, Z8); \
	DOT1((R12), Z29, Z9); \
	DOT1((R12)(R8*1), Z30, Z10); \
	DOT1((R12)(R8*2), Z31, Z11)

// RQFAST(acc, t, tx, p, k, dst): the rqFast output stage (see
// requantVNNI16) of the 16 accumulators in acc, with the group constants
// at p (a register), into the int8 bytes at dst under mask k; t (tx its X
// form) is scratch. Z24 holds rqhigh, Z25 lo and Z26 hi (dwords).
#define RQFAST(acc, t, tx, p, k, dst) \
	VPADDD (p), acc, acc; \
	VPSRLQ $32, acc, t; \
	VPMULDQ 64(p), acc, acc; \
	VPMULDQ 128(p), t, t; \
	VPADDQ 712(p), acc, acc; \
	VPADDQ 776(p), t, t; \
	VPERMT2D t, Z24, acc; \
	VPADDD 648(p), acc, acc; \
	VPSRAVD 584(p), acc, acc; \
	VPMAXSD Z25, acc, acc; \
	VPMINSD Z26, acc, acc; \
	VPMOVDB acc, tx; \
	VMOVDQU8 tx, k, dst

// func dotVNNI12x32(a *uint8, lda int, b *int8, kq int, c *int32)
TEXT ·dotVNNI12x32(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	MOVQ b+16(FP), DI
	MOVQ kq+24(FP), CX
	MOVQ c+32(FP), DX
	TILE_ROWS
	ZERO_ACC24

vnniloop:
	VMOVDQU32 (DI), Z24   // columns 0-15, 4 k each
	VMOVDQU32 64(DI), Z25 // columns 16-31
	DOT_12x32
	TILE_NEXT_K
	DECQ CX
	JNZ vnniloop
	VMOVDQU32 Z0, 0(DX)
	VMOVDQU32 Z1, 64(DX)
	VMOVDQU32 Z2, 128(DX)
	VMOVDQU32 Z3, 192(DX)
	VMOVDQU32 Z4, 256(DX)
	VMOVDQU32 Z5, 320(DX)
	VMOVDQU32 Z6, 384(DX)
	VMOVDQU32 Z7, 448(DX)
	VMOVDQU32 Z8, 512(DX)
	VMOVDQU32 Z9, 576(DX)
	VMOVDQU32 Z10, 640(DX)
	VMOVDQU32 Z11, 704(DX)
	VMOVDQU32 Z12, 768(DX)
	VMOVDQU32 Z13, 832(DX)
	VMOVDQU32 Z14, 896(DX)
	VMOVDQU32 Z15, 960(DX)
	VMOVDQU32 Z16, 1024(DX)
	VMOVDQU32 Z17, 1088(DX)
	VMOVDQU32 Z18, 1152(DX)
	VMOVDQU32 Z19, 1216(DX)
	VMOVDQU32 Z20, 1280(DX)
	VMOVDQU32 Z21, 1344(DX)
	VMOVDQU32 Z22, 1408(DX)
	VMOVDQU32 Z23, 1472(DX)
	VZEROUPPER
	RET

// func dotAVX2x4x16(a *uint8, lda int, b *int16, kq int, c *int32)
TEXT ·dotAVX2x4x16(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	MOVQ b+16(FP), DI
	MOVQ kq+24(FP), CX
	MOVQ c+32(FP), DX
	LEAQ (R8)(R8*2), R9 // 3*lda
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

avx2loop:
	VMOVDQU (DI), Y8    // columns 0-7, k pairs (0,1)
	VMOVDQU 32(DI), Y9  // columns 0-7, k pairs (2,3)
	VMOVDQU 64(DI), Y10 // columns 8-15, (0,1)
	VMOVDQU 96(DI), Y11 // columns 8-15, (2,3)
	VPBROADCASTD (SI), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y0, Y0
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y0, Y0
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y1, Y1
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y1, Y1
	VPBROADCASTD (SI)(R8*1), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y2, Y2
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y2, Y2
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y3, Y3
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y3, Y3
	VPBROADCASTD (SI)(R8*2), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y4, Y4
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y4, Y4
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y5, Y5
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y5, Y5
	VPBROADCASTD (SI)(R9*1), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y6, Y6
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y6, Y6
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y7, Y7
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y7, Y7
	ADDQ $4, SI
	ADDQ $128, DI
	DECQ CX
	JNZ avx2loop
	VMOVDQU Y0, 0(DX)
	VMOVDQU Y1, 32(DX)
	VMOVDQU Y2, 64(DX)
	VMOVDQU Y3, 96(DX)
	VMOVDQU Y4, 128(DX)
	VMOVDQU Y5, 160(DX)
	VMOVDQU Y6, 192(DX)
	VMOVDQU Y7, 224(DX)
	VZEROUPPER
	RET

// func requantVNNI16(c *int32, ldc, rows int, p *colParams, zp, lo, hi int64, out *int8, ldo, cols int)
// The even and odd lanes of each row are multiplied separately (VPMULDQ
// reads the low dword of each qword). In p.mode rqFast the high dwords of
// the products are interleaved back into 16 lanes (VPERMT2D) and rounded
// and shifted there; otherwise the products are rounded half to even in
// 64-bit lanes (the parity bit 2^shift tested with VPTESTMQ), shifted and
// interleaved, and the zero point and clamp are 32-bit unless rqWide (a
// shift below 31) asks for them in 64 bits.
TEXT ·requantVNNI16(SB), NOSPLIT, $0-80
	MOVQ c+0(FP), SI
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), CX
	MOVQ p+24(FP), DI
	MOVQ out+56(FP), DX
	MOVQ ldo+64(FP), R9
	MOVQ cols+72(FP), R10
	MOVQ $-1, AX
	BZHIQ R10, AX, AX
	KMOVW AX, K2 // the columns to read and write
	VMOVDQU32 (DI), Z16    // offset
	VMOVDQU64 64(DI), Z17  // m0, even columns
	VMOVDQU64 128(DI), Z18 // m0, odd columns
	VMOVDQU64 192(DI), Z19 // shift
	VMOVDQU64 256(DI), Z20
	VMOVDQU64 320(DI), Z21 // half-1
	VMOVDQU64 384(DI), Z22
	VMOVDQU64 448(DI), Z23 // 2^shift: the parity bit of the quotient
	VMOVDQU64 512(DI), Z24
	MOVQ $1, AX
	VPBROADCASTQ AX, Z25
	VMOVDQU32 rqinterleave<>(SB), Z26
	TESTQ CX, CX
	JEQ rqdone
	CMPQ 576(DI), $1
	JEQ rqnarrow
	JGT rqwide
	VMOVDQU32 rqhigh<>(SB), Z26
	VMOVDQU32 584(DI), Z19 // u = shift-32
	VMOVDQU32 648(DI), Z20 // r = 2^(u-1) + zp*2^u (or zp)
	VMOVDQU64 712(DI), Z21 // h, even columns
	VMOVDQU64 776(DI), Z22 // odd columns
	MOVQ lo+40(FP), AX
	VPBROADCASTD AX, Z28
	MOVQ hi+48(FP), AX
	VPBROADCASTD AX, Z29

rqfloop:
	VPADDD.Z (SI), Z16, K2, Z0 // acc + offset, wrapping in int32
	VPSRLQ $32, Z0, Z1
	VPMULDQ Z17, Z0, Z0
	VPMULDQ Z18, Z1, Z1
	VPADDQ Z21, Z0, Z0 // h: the half of a column with shift 32
	VPADDQ Z22, Z1, Z1
	VPERMT2D Z1, Z26, Z0 // the products' high dwords, in column order
	VPADDD Z20, Z0, Z0
	VPSRAVD Z19, Z0, Z0 // round half up = half to even here (no ties), plus zp
	VPMAXSD Z28, Z0, Z0
	VPMINSD Z29, Z0, Z0
	VPMOVDB Z0, X0
	VMOVDQU8 X0, K2, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ rqfloop
	JMP rqdone

rqnarrow:
	MOVQ zp+32(FP), AX
	VPBROADCASTD AX, Z27
	MOVQ lo+40(FP), AX
	VPBROADCASTD AX, Z28
	MOVQ hi+48(FP), AX
	VPBROADCASTD AX, Z29

rqloop:
	VPADDD.Z (SI), Z16, K2, Z0 // acc + offset, wrapping in int32
	VPSRLQ $32, Z0, Z1         // odd lanes into the low dwords
	VPMULDQ Z17, Z0, Z0        // p = acc * m0
	VPMULDQ Z18, Z1, Z1
	VPTESTMQ Z23, Z0, K3       // the quotient's parity
	VPTESTMQ Z24, Z1, K4
	VPADDQ Z21, Z0, Z0
	VPADDQ Z22, Z1, Z1
	VPADDQ Z25, Z0, K3, Z0
	VPADDQ Z25, Z1, K4, Z1
	VPSRAVQ Z19, Z0, Z0 // (p + half - 1 + parity) >> s: half to even, |q| < 2^31
	VPSRAVQ Z20, Z1, Z1
	VPERMT2D Z1, Z26, Z0 // even and odd lanes back in order
	VPADDD Z27, Z0, Z0
	VPMAXSD Z28, Z0, Z0
	VPMINSD Z29, Z0, Z0
	VPMOVDB Z0, X0
	VMOVDQU8 X0, K2, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ rqloop
	JMP rqdone

rqwide:
	VPBROADCASTQ zp+32(FP), Z27
	VPBROADCASTQ lo+40(FP), Z28
	VPBROADCASTQ hi+48(FP), Z29

rqwloop:
	VPADDD.Z (SI), Z16, K2, Z0
	VPSRLQ $32, Z0, Z1
	VPMULDQ Z17, Z0, Z0
	VPMULDQ Z18, Z1, Z1
	VPTESTMQ Z23, Z0, K3
	VPTESTMQ Z24, Z1, K4
	VPADDQ Z21, Z0, Z0
	VPADDQ Z22, Z1, Z1
	VPADDQ Z25, Z0, K3, Z0
	VPADDQ Z25, Z1, K4, Z1
	VPSRAVQ Z19, Z0, Z0
	VPSRAVQ Z20, Z1, Z1
	VPADDQ Z27, Z0, Z0 // zero point and clamp in 64-bit lanes
	VPADDQ Z27, Z1, Z1
	VPMAXSQ Z28, Z0, Z0
	VPMAXSQ Z28, Z1, Z1
	VPMINSQ Z29, Z0, Z0
	VPMINSQ Z29, Z1, Z1
	VPERMT2D Z1, Z26, Z0
	VPMOVDB Z0, X0
	VMOVDQU8 X0, K2, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ rqwloop

rqdone:
	VZEROUPPER
	RET

// rqinterleave: dword i of requantVNNI16's result is the low dword of
// qword i/2 of the even (i even) or odd (i odd) products.
DATA rqinterleave<>+0(SB)/4, $0
DATA rqinterleave<>+4(SB)/4, $16
DATA rqinterleave<>+8(SB)/4, $2
DATA rqinterleave<>+12(SB)/4, $18
DATA rqinterleave<>+16(SB)/4, $4
DATA rqinterleave<>+20(SB)/4, $20
DATA rqinterleave<>+24(SB)/4, $6
DATA rqinterleave<>+28(SB)/4, $22
DATA rqinterleave<>+32(SB)/4, $8
DATA rqinterleave<>+36(SB)/4, $24
DATA rqinterleave<>+40(SB)/4, $10
DATA rqinterleave<>+44(SB)/4, $26
DATA rqinterleave<>+48(SB)/4, $12
DATA rqinterleave<>+52(SB)/4, $28
DATA rqinterleave<>+56(SB)/4, $14
DATA rqinterleave<>+60(SB)/4, $30
GLOBL rqinterleave<>(SB), RODATA|NOPTR, $64

// rqhigh: dword i is the high dword of qword i/2 of the even (i even) or
// odd (i odd) products.
DATA rqhigh<>+0(SB)/4, $1
DATA rqhigh<>+4(SB)/4, $17
DATA rqhigh<>+8(SB)/4, $3
DATA rqhigh<>+12(SB)/4, $19
DATA rqhigh<>+16(SB)/4, $5
DATA rqhigh<>+20(SB)/4, $21
DATA rqhigh<>+24(SB)/4, $7
DATA rqhigh<>+28(SB)/4, $23
DATA rqhigh<>+32(SB)/4, $9
DATA rqhigh<>+36(SB)/4, $25
DATA rqhigh<>+40(SB)/4, $11
DATA rqhigh<>+44(SB)/4, $27
DATA rqhigh<>+48(SB)/4, $13
DATA rqhigh<>+52(SB)/4, $29
DATA rqhigh<>+56(SB)/4, $15
DATA rqhigh<>+60(SB)/4, $31
GLOBL rqhigh<>(SB), RODATA|NOPTR, $64

// func xorRow32(dst *uint8, src *int8, n int)
// dst[i] = src[i] XOR 0x80 for i < n, n a multiple of 32.
TEXT ·xorRow32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	JEQ xrdone
	MOVL $0x80808080, AX
	MOVQ AX, X1
	VPBROADCASTD X1, Y1

xrloop:
	VPXOR (SI), Y1, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ xrloop

xrdone:
	VZEROUPPER
	RET

// func maxRow32(dst, src *int8, n int)
// dst[i] = max(dst[i], src[i]) for i < n, n a multiple of 32.
TEXT ·maxRow32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	JEQ mxdone

mxloop:
	VMOVDQU (DI), Y0
	VPMAXSB (SI), Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ mxloop

mxdone:
	VZEROUPPER
	RET

// func mulAdd16(acc *int32, x, w *int8, n int, zp int32)
// acc[i] += (int32(x[i]) - zp) * int32(w[i]) for i < n, n a multiple of 16.
TEXT ·mulAdd16(SB), NOSPLIT, $0-36
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JEQ madone
	MOVL zp+32(FP), AX
	VPBROADCASTD AX, Z3

maloop:
	VPMOVSXBD (SI), Z0
	VPMOVSXBD (DX), Z1
	VPSUBD Z3, Z0, Z0
	VPMULLD Z1, Z0, Z0
	VPADDD (DI), Z0, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $64, DI
	DECQ CX
	JNZ maloop

madone:
	VZEROUPPER
	RET

// func vnniPeak(n int)
// n iterations of 24 independent VPDPBUSD on Z registers, no memory.
TEXT ·vnniPeak(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25

peakloop:
	VPDPBUSD Z24, Z25, Z0
	VPDPBUSD Z24, Z25, Z1
	VPDPBUSD Z24, Z25, Z2
	VPDPBUSD Z24, Z25, Z3
	VPDPBUSD Z24, Z25, Z4
	VPDPBUSD Z24, Z25, Z5
	VPDPBUSD Z24, Z25, Z6
	VPDPBUSD Z24, Z25, Z7
	VPDPBUSD Z24, Z25, Z8
	VPDPBUSD Z24, Z25, Z9
	VPDPBUSD Z24, Z25, Z10
	VPDPBUSD Z24, Z25, Z11
	VPDPBUSD Z24, Z25, Z12
	VPDPBUSD Z24, Z25, Z13
	VPDPBUSD Z24, Z25, Z14
	VPDPBUSD Z24, Z25, Z15
	VPDPBUSD Z24, Z25, Z16
	VPDPBUSD Z24, Z25, Z17
	VPDPBUSD Z24, Z25, Z18
	VPDPBUSD Z24, Z25, Z19
	VPDPBUSD Z24, Z25, Z20
	VPDPBUSD Z24, Z25, Z21
	VPDPBUSD Z24, Z25, Z22
	VPDPBUSD Z24, Z25, Z23
	DECQ CX
	JNZ peakloop
	VZEROUPPER
	RET

// Shuffle masks for requantAVX2x8: byte 0 of each int64 lane to its column's
// byte position (columns 0-3 from the first vector, 4-7 from the second).
DATA rqmask1<>+0(SB)/8, $0x8080808080800800
DATA rqmask1<>+8(SB)/8, $0x8080808080808080
DATA rqmask1<>+16(SB)/8, $0x8080808008008080
DATA rqmask1<>+24(SB)/8, $0x8080808080808080
GLOBL rqmask1<>(SB), RODATA|NOPTR, $32
DATA rqmask2<>+0(SB)/8, $0x8080080080808080
DATA rqmask2<>+8(SB)/8, $0x8080808080808080
DATA rqmask2<>+16(SB)/8, $0x0800808080808080
DATA rqmask2<>+24(SB)/8, $0x8080808080808080
GLOBL rqmask2<>(SB), RODATA|NOPTR, $32

// func requantAVX2x8(c *int32, ldc, rows int, p *colParams8, zp, lo, hi int64, out *int8, ldo int)
TEXT ·requantAVX2x8(SB), NOSPLIT, $0-72
	MOVQ c+0(FP), SI
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), CX
	MOVQ p+24(FP), DI
	MOVQ out+56(FP), DX
	MOVQ ldo+64(FP), R9
	VPBROADCASTQ zp+32(FP), Y10
	VPBROADCASTQ lo+40(FP), Y11
	VPBROADCASTQ hi+48(FP), Y12
	MOVQ $1, AX
	MOVQ AX, X9
	VPBROADCASTQ X9, Y9
	MOVQ $0x4000000000000000, AX
	MOVQ AX, X8
	VPBROADCASTQ X8, Y8
	VMOVDQU rqmask1<>(SB), Y13
	VMOVDQU rqmask2<>(SB), Y14
	TESTQ CX, CX
	JEQ r2done
	CMPQ 416(DI), $0
	JEQ r2loop
	// The fast form (no ties, shift >= 33) in 32-bit lanes on the
	// products' high dwords, as requantVNNI16's rqFast.
	VMOVDQU 288(DI), Y5 // m0, even columns
	VMOVDQU 320(DI), Y6 // m0, odd columns
	VMOVDQU 352(DI), Y7 // u
	VMOVDQU 384(DI), Y8 // r, with the zero point
	MOVQ lo+40(FP), AX
	MOVQ AX, X11
	VPBROADCASTD X11, Y11
	MOVQ hi+48(FP), AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12

r2floop:
	VMOVDQU (SI), Y0
	VPADDD (DI), Y0, Y0
	VPSRLQ $32, Y0, Y1
	VPMULDQ Y5, Y0, Y0
	VPMULDQ Y6, Y1, Y1
	VPADDQ 424(DI), Y0, Y0 // h
	VPADDQ 456(DI), Y1, Y1
	VPSRLQ $32, Y0, Y0
	VPBLENDD $0xaa, Y1, Y0, Y0 // high dwords, columns in order
	VPADDD Y8, Y0, Y0
	VPSRAVD Y7, Y0, Y0
	VPMAXSD Y11, Y0, Y0
	VPMINSD Y12, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW X1, X0, X0
	VPACKSSWB X0, X0, X0
	VMOVQ X0, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ r2floop
	JMP r2done

r2loop:
	VMOVDQU (SI), Y0
	VPADDD (DI), Y0, Y0 // acc + offset, wrapping in int32
	VPMOVSXDQ X0, Y1
	VEXTRACTI128 $1, Y0, X2
	VPMOVSXDQ X2, Y2
	VPMULDQ 32(DI), Y1, Y1 // p = acc * m0, columns 0-3
	VPMULDQ 64(DI), Y2, Y2 // columns 4-7
	// parity of floor(p / 2^s): bit s of p + 2^62 (s <= 61)
	VPADDQ Y8, Y1, Y3
	VPADDQ Y8, Y2, Y4
	VPSRLVQ 96(DI), Y3, Y3
	VPSRLVQ 128(DI), Y4, Y4
	VPAND Y9, Y3, Y3
	VPAND Y9, Y4, Y4
	// q = ((p + half - 1 + parity + 2^62) >>> s) - 2^(62-s)
	VPADDQ 160(DI), Y1, Y1
	VPADDQ 192(DI), Y2, Y2
	VPADDQ Y3, Y1, Y1
	VPADDQ Y4, Y2, Y2
	VPADDQ Y8, Y1, Y1
	VPADDQ Y8, Y2, Y2
	VPSRLVQ 96(DI), Y1, Y1
	VPSRLVQ 128(DI), Y2, Y2
	VPSUBQ 224(DI), Y1, Y1
	VPSUBQ 256(DI), Y2, Y2
	VPADDQ Y10, Y1, Y1
	VPADDQ Y10, Y2, Y2
	// clamp to [lo, hi]
	VPCMPGTQ Y11, Y1, Y3
	VPBLENDVB Y3, Y1, Y11, Y1
	VPCMPGTQ Y11, Y2, Y4
	VPBLENDVB Y4, Y2, Y11, Y2
	VPCMPGTQ Y12, Y1, Y3
	VPBLENDVB Y3, Y12, Y1, Y1
	VPCMPGTQ Y12, Y2, Y4
	VPBLENDVB Y4, Y12, Y2, Y2
	// the low byte of each lane to its column
	VPSHUFB Y13, Y1, Y1
	VPSHUFB Y14, Y2, Y2
	VPOR Y2, Y1, Y1
	VEXTRACTI128 $1, Y1, X3
	VPOR X3, X1, X1
	VMOVQ X1, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ r2loop

r2done:
	VZEROUPPER
	RET

// func xorSegs512(dst *uint8, src *int8, n, stride, count int)
// For c < count and i < n: dst[c*n+i] = src[c*stride+i] XOR 0x80
// (AVX-512BW; the last partial 64 bytes of each segment under a mask).
TEXT ·xorSegs512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), R8
	MOVQ stride+24(FP), R9
	MOVQ count+32(FP), CX
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z1
	MOVQ R8, R10
	ANDQ $63, R10 // tail bytes
	MOVQ $-1, AX
	BZHIQ R10, AX, AX
	KMOVQ AX, K1
	MOVQ R8, R11
	SHRQ $6, R11 // full 64-byte chunks
	TESTQ CX, CX
	JEQ xsdone

xsseg:
	MOVQ SI, R12
	MOVQ R11, DX
	TESTQ DX, DX
	JEQ xstail

xschunk:
	VPXORD (R12), Z1, Z0
	VMOVDQU8 Z0, (DI)
	ADDQ $64, R12
	ADDQ $64, DI
	DECQ DX
	JNZ xschunk

xstail:
	TESTQ R10, R10
	JEQ xsnext
	VMOVDQU8.Z (R12), K1, Z0
	VPXORD Z1, Z0, Z0
	VMOVDQU8 Z0, K1, (DI)
	ADDQ R10, DI

xsnext:
	ADDQ R9, SI
	DECQ CX
	JNZ xsseg

xsdone:
	VZEROUPPER
	RET

// func addRescale8(y, a, b *int8, n int, p *AddParams)
// Rescaled add of n int8 values, n a multiple of 8 (AVX-512F/DQ):
// p = (a-zpA)*mA + (b-zpB)*mB; y = clamp(round_half_even(p/2^shift)+zpOut, lo, hi).
TEXT ·addRescale8(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ p+32(FP), R8
	SHRQ $3, CX
	JEQ addone
	VPBROADCASTQ 0(R8), Z16  // zpA
	VPBROADCASTQ 8(R8), Z17  // zpB
	VPBROADCASTQ 16(R8), Z18 // mA
	VPBROADCASTQ 24(R8), Z19 // mB
	VMOVQ 32(R8), X20        // shift
	VPBROADCASTQ 40(R8), Z21 // half - 1
	VPBROADCASTQ 48(R8), Z22 // zpOut
	VPBROADCASTQ 56(R8), Z23 // lo
	VPBROADCASTQ 64(R8), Z24 // hi
	MOVQ $1, AX
	VPBROADCASTQ AX, Z25

adloop:
	VPMOVSXBQ (SI), Z0
	VPMOVSXBQ (DI), Z1
	VPSUBQ Z16, Z0, Z0
	VPSUBQ Z17, Z1, Z1
	VPMULLQ Z18, Z0, Z0
	VPMULLQ Z19, Z1, Z1
	VPADDQ Z1, Z0, Z0
	VPSRAQ X20, Z0, Z2
	VPANDQ Z25, Z2, Z2
	VPADDQ Z21, Z0, Z0
	VPADDQ Z2, Z0, Z0
	VPSRAQ X20, Z0, Z0
	VPADDQ Z22, Z0, Z0
	VPMAXSQ Z23, Z0, Z0
	VPMINSQ Z24, Z0, Z0
	VPMOVQB Z0, X0
	VMOVQ X0, (DX)
	ADDQ $8, SI
	ADDQ $8, DI
	ADDQ $8, DX
	DECQ CX
	JNZ adloop

addone:
	VZEROUPPER
	RET

// func mulAdd8(acc *int32, x, w *int8, n int, zp int32)
// acc[i] += (int32(x[i]) - zp) * int32(w[i]) for i < n, n a multiple of 8
// (AVX2).
TEXT ·mulAdd8(SB), NOSPLIT, $0-36
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ m8done
	MOVL zp+32(FP), AX
	MOVQ AX, X3
	VPBROADCASTD X3, Y3

m8loop:
	VPMOVSXBD (SI), Y0
	VPMOVSXBD (DX), Y1
	VPSUBD Y3, Y0, Y0
	VPMULLD Y1, Y0, Y0
	VPADDD (DI), Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $8, SI
	ADDQ $8, DX
	ADDQ $32, DI
	DECQ CX
	JNZ m8loop

m8done:
	VZEROUPPER
	RET

// func dwRowsVNNI(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int)
// Channel blocks of 16 outside, pixels inside: per pixel and pair of taps,
// two sign-extending loads, one VPERMT2W interleaving the taps' words and
// one VPDPWSSD, from the block's correction -zp*sum w.
TEXT ·dwRowsVNNI(SB), NOSPLIT, $0-72
	MOVQ c+32(FP), R8
	SHLQ $2, R8 // acc stride of a pixel
	MOVQ step+64(FP), R12
	MOVQ pairs+40(FP), R9
	SHLQ $4, R9
	ADDQ offs+48(FP), R9 // end of the offsets
	MOVQ w16+16(FP), R14
	MOVQ corr+24(FP), BX
	VMOVDQU16 dwpairs<>(SB), Z5
	XORQ R11, R11

dwrblock:
	MOVQ c+32(FP), AX
	SUBQ R11, AX
	CMPQ AX, $16
	JLT dwrpartial
	MOVQ $0xffff, AX
	JMP dwrmask

dwrpartial:
	MOVQ $-1, CX
	BZHIQ AX, CX, AX

dwrmask:
	KMOVW AX, K1
	VMOVDQU32 (BX), Z4
	MOVQ x+8(FP), SI
	ADDQ R11, SI
	MOVQ acc+0(FP), DI
	LEAQ (DI)(R11*4), DI
	MOVQ n+56(FP), R10
	IMULQ R12, R10
	ADDQ SI, R10 // end of the block's pixels

dwrpixel:
	VMOVDQA32 Z4, Z0
	MOVQ offs+48(FP), AX
	MOVQ R14, CX

dwrpair:
	MOVQ (AX), DX
	MOVQ 8(AX), R13
	VPMOVSXBW.Z (SI)(DX*1), K1, Y1
	VPMOVSXBW.Z (SI)(R13*1), K1, Y2
	VPERMT2W Z2, Z5, Z1 // tap pairs per channel
	VPDPWSSD (CX), Z1, Z0
	ADDQ $16, AX
	ADDQ $64, CX
	CMPQ AX, R9
	JLT dwrpair
	VMOVDQU32 Z0, K1, (DI)
	ADDQ R12, SI
	ADDQ R8, DI
	CMPQ SI, R10
	JLT dwrpixel
	MOVQ pairs+40(FP), AX
	SHLQ $6, AX
	ADDQ AX, R14
	ADDQ $64, BX
	ADDQ $16, R11
	CMPQ R11, c+32(FP)
	JLT dwrblock
	VZEROUPPER
	RET

// dwpairs: word 2i is word i of the first tap, word 2i+1 word i of the
// second (index 32+i).
DATA dwpairs<>+0(SB)/2, $0
DATA dwpairs<>+2(SB)/2, $32
DATA dwpairs<>+4(SB)/2, $1
DATA dwpairs<>+6(SB)/2, $33
DATA dwpairs<>+8(SB)/2, $2
DATA dwpairs<>+10(SB)/2, $34
DATA dwpairs<>+12(SB)/2, $3
DATA dwpairs<>+14(SB)/2, $35
DATA dwpairs<>+16(SB)/2, $4
DATA dwpairs<>+18(SB)/2, $36
DATA dwpairs<>+20(SB)/2, $5
DATA dwpairs<>+22(SB)/2, $37
DATA dwpairs<>+24(SB)/2, $6
DATA dwpairs<>+26(SB)/2, $38
DATA dwpairs<>+28(SB)/2, $7
DATA dwpairs<>+30(SB)/2, $39
DATA dwpairs<>+32(SB)/2, $8
DATA dwpairs<>+34(SB)/2, $40
DATA dwpairs<>+36(SB)/2, $9
DATA dwpairs<>+38(SB)/2, $41
DATA dwpairs<>+40(SB)/2, $10
DATA dwpairs<>+42(SB)/2, $42
DATA dwpairs<>+44(SB)/2, $11
DATA dwpairs<>+46(SB)/2, $43
DATA dwpairs<>+48(SB)/2, $12
DATA dwpairs<>+50(SB)/2, $44
DATA dwpairs<>+52(SB)/2, $13
DATA dwpairs<>+54(SB)/2, $45
DATA dwpairs<>+56(SB)/2, $14
DATA dwpairs<>+58(SB)/2, $46
DATA dwpairs<>+60(SB)/2, $15
DATA dwpairs<>+62(SB)/2, $47
GLOBL dwpairs<>(SB), RODATA|NOPTR, $64

// func dwRowsAVX2(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int)
// dwRowsVNNI for AVX2: per 16 channels and pair of taps, two VPMOVSXBW
// loads, VPUNPCKLWD/VPUNPCKHWD into word pairs (channels 0-3 and 8-11 in
// one register, 4-7 and 12-15 in the other, as the weights are packed),
// two VPMADDWD and two VPADDD; VPERM2I128 restores the channel order and
// VPMASKMOVD stores the block's channels. It reads up to 15 bytes beyond
// channel c of a tap (the caller guarantees them).
TEXT ·dwRowsAVX2(SB), NOSPLIT, $0-72
	MOVQ c+32(FP), R8
	SHLQ $2, R8
	MOVQ step+64(FP), R12
	MOVQ pairs+40(FP), R9
	SHLQ $4, R9
	ADDQ offs+48(FP), R9
	MOVQ w16+16(FP), R14
	MOVQ corr+24(FP), BX
	XORQ R11, R11

d2block:
	MOVQ c+32(FP), AX
	SUBQ R11, AX
	CMPQ AX, $16
	JLE d2lo
	MOVQ $16, AX

d2lo:
	LEAQ d2masks<>(SB), CX
	MOVQ AX, DX
	CMPQ DX, $8
	JLE d2lomask
	MOVQ $8, DX

d2lomask:
	NEGQ DX
	VMOVDQU 32(CX)(DX*4), Y6 // the first min(r, 8) dwords
	SUBQ $8, AX
	JGE d2himask
	XORQ AX, AX

d2himask:
	NEGQ AX
	VMOVDQU 32(CX)(AX*4), Y7 // the next max(r-8, 0)
	VMOVDQU (BX), Y4
	VMOVDQU 32(BX), Y5
	MOVQ x+8(FP), SI
	ADDQ R11, SI
	MOVQ acc+0(FP), DI
	LEAQ (DI)(R11*4), DI
	MOVQ n+56(FP), R10
	IMULQ R12, R10
	ADDQ SI, R10

d2pixel:
	VMOVDQA Y4, Y0
	VMOVDQA Y5, Y1
	MOVQ offs+48(FP), AX
	MOVQ R14, CX

d2pair:
	MOVQ (AX), DX
	MOVQ 8(AX), R13
	VPMOVSXBW (SI)(DX*1), Y2
	VPMOVSXBW (SI)(R13*1), Y3
	VPUNPCKLWD Y3, Y2, Y8
	VPUNPCKHWD Y3, Y2, Y9
	VPMADDWD (CX), Y8, Y8
	VPMADDWD 32(CX), Y9, Y9
	VPADDD Y8, Y0, Y0
	VPADDD Y9, Y1, Y1
	ADDQ $16, AX
	ADDQ $64, CX
	CMPQ AX, R9
	JLT d2pair
	VPERM2I128 $0x20, Y1, Y0, Y8 // channels 0-7
	VPERM2I128 $0x31, Y1, Y0, Y9 // channels 8-15
	VPMASKMOVD Y8, Y6, (DI)
	VPMASKMOVD Y9, Y7, 32(DI)
	ADDQ R12, SI
	ADDQ R8, DI
	CMPQ SI, R10
	JLT d2pixel
	MOVQ pairs+40(FP), AX
	SHLQ $6, AX
	ADDQ AX, R14
	ADDQ $64, BX
	ADDQ $16, R11
	CMPQ R11, c+32(FP)
	JLT d2block
	VZEROUPPER
	RET

// d2masks: eight all-ones dwords then eight zeros; the 8 dwords from
// index 8-k are a mask of the first k lanes.
DATA d2masks<>+0(SB)/8, $-1
DATA d2masks<>+8(SB)/8, $-1
DATA d2masks<>+16(SB)/8, $-1
DATA d2masks<>+24(SB)/8, $-1
DATA d2masks<>+32(SB)/8, $0
DATA d2masks<>+40(SB)/8, $0
DATA d2masks<>+48(SB)/8, $0
DATA d2masks<>+56(SB)/8, $0
GLOBL d2masks<>(SB), RODATA|NOPTR, $64

// func addRescaleAVX2(y, a, b *int8, n int, p *AddParams)
// AddRows' AVX2 loop on n values, n a multiple of 8, in float64 (exact,
// see AddParams): q = round_half_even((a*MA + b*MB + C) * 2^-shift).
TEXT ·addRescaleAVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ p+32(FP), R8
	SHRQ $3, CX
	JEQ a2done
	VBROADCASTSD 72(R8), Y8   // MA
	VBROADCASTSD 80(R8), Y9   // MB
	VBROADCASTSD 88(R8), Y10  // C
	VBROADCASTSD 96(R8), Y11  // 2^-shift
	VBROADCASTSD 104(R8), Y12 // zpOut
	VBROADCASTSD 112(R8), Y13 // lo
	VBROADCASTSD 120(R8), Y14 // hi

a2loop:
	VPMOVSXBD (SI), X0
	VPMOVSXBD 4(SI), X1
	VPMOVSXBD (DI), X2
	VPMOVSXBD 4(DI), X3
	VCVTDQ2PD X0, Y0
	VCVTDQ2PD X1, Y1
	VCVTDQ2PD X2, Y2
	VCVTDQ2PD X3, Y3
	VFMADD213PD Y10, Y8, Y0 // a*MA + C
	VFMADD213PD Y10, Y8, Y1
	VFMADD231PD Y9, Y2, Y0  // + b*MB
	VFMADD231PD Y9, Y3, Y1
	VMULPD Y11, Y0, Y0
	VMULPD Y11, Y1, Y1
	VROUNDPD $0, Y0, Y0 // to nearest, ties to even
	VROUNDPD $0, Y1, Y1
	VADDPD Y12, Y0, Y0
	VADDPD Y12, Y1, Y1
	VMAXPD Y13, Y0, Y0
	VMAXPD Y13, Y1, Y1
	VMINPD Y14, Y0, Y0
	VMINPD Y14, Y1, Y1
	VCVTPD2DQY Y0, X0
	VCVTPD2DQY Y1, X1
	VPACKSSDW X1, X0, X0
	VPACKSSWB X0, X0, X0
	VMOVQ X0, (DX)
	ADDQ $8, SI
	ADDQ $8, DI
	ADDQ $8, DX
	DECQ CX
	JNZ a2loop

a2done:
	VZEROUPPER
	RET

// func dotRqVNNI12x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
// dotVNNI12x32 with the output stage of two 16-column groups in rqFast
// mode (p0: columns 0-15, p1: 16-31; p1 may repeat p0 when cols <= 16)
// applied to the accumulators in registers: rows < 12 int8 rows of cols
// <= 32 values written to out (stride ldo), nothing else.
TEXT ·dotRqVNNI12x32(SB), NOSPLIT, $0-96
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	MOVQ b+16(FP), DI
	MOVQ kq+24(FP), CX
	TILE_ROWS
	ZERO_ACC24

dqloop:
	VMOVDQU32 (DI), Z24
	VMOVDQU32 64(DI), Z25
	DOT_12x32
	TILE_NEXT_K
	DECQ CX
	JNZ dqloop
	MOVQ p0+32(FP), DI
	MOVQ p1+40(FP), BX
	MOVQ out+64(FP), DX
	MOVQ ldo+72(FP), R9
	MOVQ rows+80(FP), CX
	MOVQ cols+88(FP), R10
	MOVQ R10, AX
	CMPQ AX, $16
	JLE dqm0
	MOVQ $16, AX

dqm0:
	MOVQ $-1, R11
	BZHIQ AX, R11, AX
	KMOVW AX, K2 // columns 0-15 to write
	SUBQ $16, R10
	JGE dqm1
	XORQ R10, R10

dqm1:
	MOVQ $-1, R11
	BZHIQ R10, R11, AX
	KMOVW AX, K3 // columns 16-31
	VMOVDQU32 rqhigh<>(SB), Z24
	MOVQ lo+48(FP), AX
	VPBROADCASTD AX, Z25
	MOVQ hi+56(FP), AX
	VPBROADCASTD AX, Z26
	RQFAST(Z0, Z27, X27, DI, K2, (DX))
	RQFAST(Z1, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z2, Z27, X27, DI, K2, (DX))
	RQFAST(Z3, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z4, Z27, X27, DI, K2, (DX))
	RQFAST(Z5, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z6, Z27, X27, DI, K2, (DX))
	RQFAST(Z7, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z8, Z27, X27, DI, K2, (DX))
	RQFAST(Z9, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z10, Z27, X27, DI, K2, (DX))
	RQFAST(Z11, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z12, Z27, X27, DI, K2, (DX))
	RQFAST(Z13, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z14, Z27, X27, DI, K2, (DX))
	RQFAST(Z15, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z16, Z27, X27, DI, K2, (DX))
	RQFAST(Z17, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z18, Z27, X27, DI, K2, (DX))
	RQFAST(Z19, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z20, Z27, X27, DI, K2, (DX))
	RQFAST(Z21, Z28, X28, BX, K3, 16(DX))
	DECQ CX
	JEQ dqdone
	ADDQ R9, DX
	RQFAST(Z22, Z27, X27, DI, K2, (DX))
	RQFAST(Z23, Z28, X28, BX, K3, 16(DX))

dqdone:
	VZEROUPPER
	RET

// func dotRqVNNI12x16(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
// dotRqVNNI12x32 for a panel of at most 16 columns: only the first half of
// each packed k group is read, 12 accumulators.
TEXT ·dotRqVNNI12x16(SB), NOSPLIT, $0-88
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	MOVQ b+16(FP), DI
	MOVQ kq+24(FP), CX
	TILE_ROWS
	ZERO_ACC12

dq16loop:
	VMOVDQU32 (DI), Z24
	DOT_12x16
	TILE_NEXT_K
	DECQ CX
	JNZ dq16loop
	MOVQ p0+32(FP), DI
	MOVQ out+56(FP), DX
	MOVQ ldo+64(FP), R9
	MOVQ rows+72(FP), CX
	MOVQ cols+80(FP), AX
	MOVQ $-1, R11
	BZHIQ AX, R11, AX
	KMOVW AX, K2
	VMOVDQU32 rqhigh<>(SB), Z24
	MOVQ lo+40(FP), AX
	VPBROADCASTD AX, Z25
	MOVQ hi+48(FP), AX
	VPBROADCASTD AX, Z26
	RQFAST(Z0, Z27, X27, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z1, Z28, X28, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z2, Z27, X27, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z3, Z28, X28, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z4, Z27, X27, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z5, Z28, X28, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z6, Z27, X27, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z7, Z28, X28, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z8, Z27, X27, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z9, Z28, X28, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z10, Z27, X27, DI, K2, (DX))
	DECQ CX
	JEQ dq16done
	ADDQ R9, DX
	RQFAST(Z11, Z28, X28, DI, K2, (DX))

dq16done:
	VZEROUPPER
	RET

// func dwRows3x3RqVNNI(out *int8, x *int8, w16 *int16, corr *int32, c, row, n, step int, p *colParams, lo, hi int64)
// dwRowsVNNI for a 3x3 window (taps at ky*row + kx*c), unrolled, with the
// rqFast output stage of each 16-channel group applied in registers.
TEXT ·dwRows3x3RqVNNI(SB), NOSPLIT, $0-88
	MOVQ c+32(FP), R8
	MOVQ step+56(FP), R12
	MOVQ w16+16(FP), CX
	MOVQ corr+24(FP), BX
	MOVQ p+64(FP), R14
	VMOVDQU16 dwpairs<>(SB), Z5
	VMOVDQU32 rqhigh<>(SB), Z24
	MOVQ lo+72(FP), AX
	VPBROADCASTD AX, Z25
	MOVQ hi+80(FP), AX
	VPBROADCASTD AX, Z26
	XORQ R13, R13

d3block:
	MOVQ R8, AX
	SUBQ R13, AX
	CMPQ AX, $16
	JLT d3partial
	MOVQ $0xffff, AX
	JMP d3mask

d3partial:
	MOVQ $-1, DX
	BZHIQ AX, DX, AX

d3mask:
	KMOVW AX, K1
	VMOVDQU32 (BX), Z4
	MOVQ x+8(FP), SI
	ADDQ R13, SI
	MOVQ row+40(FP), AX
	LEAQ (SI)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	MOVQ out+0(FP), DI
	ADDQ R13, DI
	MOVQ n+48(FP), R11

d3pixel:
	VMOVDQA32 Z4, Z0
	VPMOVSXBW.Z (SI), K1, Y1
	VPMOVSXBW.Z (SI)(R8*1), K1, Y2
	VPERMT2W Z2, Z5, Z1
	VPDPWSSD 0(CX), Z1, Z0
	VPMOVSXBW.Z (SI)(R8*2), K1, Y1
	VPMOVSXBW.Z (R9), K1, Y2
	VPERMT2W Z2, Z5, Z1
	VPDPWSSD 64(CX), Z1, Z0
	VPMOVSXBW.Z (R9)(R8*1), K1, Y1
	VPMOVSXBW.Z (R9)(R8*2), K1, Y2
	VPERMT2W Z2, Z5, Z1
	VPDPWSSD 128(CX), Z1, Z0
	VPMOVSXBW.Z (R10), K1, Y1
	VPMOVSXBW.Z (R10)(R8*1), K1, Y2
	VPERMT2W Z2, Z5, Z1
	VPDPWSSD 192(CX), Z1, Z0
	VPMOVSXBW.Z (R10)(R8*2), K1, Y1
	VPERMT2W Z1, Z5, Z1 // the ninth tap with itself (its partner weight is 0)
	VPDPWSSD 256(CX), Z1, Z0
	RQFAST(Z0, Z27, X27, R14, K1, (DI)) // offset (the bias) and output stage
	ADDQ R12, SI
	ADDQ R12, R9
	ADDQ R12, R10
	ADDQ R8, DI
	DECQ R11
	JNZ d3pixel
	ADDQ $320, CX // the next block's 5 pairs
	ADDQ $64, BX
	ADDQ $840, R14 // the next group's output stage
	ADDQ $16, R13
	CMPQ R13, R8
	JLT d3block
	VZEROUPPER
	RET

// func copyWindows(dst *uint8, lda int, src *uint8, offs *int, n, kh, seg, rowStep int)
// For r < n and ky < kh: the seg bytes at src[offs[r]+ky*rowStep] moved to
// dst[r*lda+ky*seg], 8 bytes a move (each move may overrun by up to 7).
TEXT ·copyWindows(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ lda+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ offs+24(FP), R9
	MOVQ n+32(FP), R10
	MOVQ seg+48(FP), R12
	MOVQ rowStep+56(FP), R13
	TESTQ R10, R10
	JEQ cwdone

cwrow:
	MOVQ (R9), AX
	ADDQ SI, AX // the window's first row
	MOVQ DI, BX // its im2col row
	MOVQ kh+40(FP), R11

cwky:
	XORQ CX, CX

cwword:
	MOVQ (AX)(CX*1), DX
	MOVQ DX, (BX)(CX*1)
	ADDQ $8, CX
	CMPQ CX, R12
	JLT cwword
	ADDQ R13, AX
	ADDQ R12, BX
	DECQ R11
	JNZ cwky
	ADDQ $8, R9
	ADDQ R8, DI
	DECQ R10
	JNZ cwrow

cwdone:
	RET
