//go:build amd64 && !noasm

#include "textflag.h"
#include "qkernels_amd64.h"

// The AVX-512 VNNI micro-kernels of Gemm (gemm.go): a 12x32 tile of int32
// dot products of twelve uint8 activation rows and a packed 32-column int8
// weight panel, 24 Z accumulators fed by VPDPBUSD. dotVNNI12x32 stores the
// tile; dotRqVNNI12x32 and dotRqVNNI12x16 run the rqFast output stage
// (RQFAST, qkernels_amd64.h) on it while it is in registers and store
// int8 rows.

// RQ_SETUP32(DQM0, DQM1) loads the output stage of a 32-column tile (after
// the products): the column groups' parameters (DI, BX), the output (DX,
// row stride R9), the row count (CX), the column masks (K2, K3), the
// permutation and the clamp (Z24-Z26); DQM0 and DQM1 are its labels.
#define RQ_SETUP32(DQM0, DQM1) \
	MOVQ p0+32(FP), DI; \
	MOVQ p1+40(FP), BX; \
	MOVQ out+64(FP), DX; \
	MOVQ ldo+72(FP), R9; \
	MOVQ rows+80(FP), CX; \
	MOVQ cols+88(FP), R10; \
	MOVQ R10, AX; \
	CMPQ AX, $16; \
	JLE DQM0; \
	MOVQ $16, AX; \
DQM0: \
	MOVQ $-1, R11; \
	BZHIQ AX, R11, AX; \
	KMOVW AX, K2; \
	SUBQ $16, R10; \
	JGE DQM1; \
	XORQ R10, R10; \
DQM1: \
	MOVQ $-1, R11; \
	BZHIQ R10, R11, AX; \
	KMOVW AX, K3; \
	VMOVDQU32 ·rqhigh(SB), Z24; \
	MOVQ lo+48(FP), AX; \
	VPBROADCASTD AX, Z25; \
	MOVQ hi+56(FP), AX; \
	VPBROADCASTD AX, Z26

// RQ_ROW32(RQ, a0, a1, DQDONE) requantizes and stores one row of a
// 32-column tile (accumulators a0, a1) and moves to the next, or jumps to
// DQDONE after the last.
#define RQ_ROW32(RQ, a0, a1, DQDONE) \
	RQ(a0, Z27, X27, DI, K2, (DX)); \
	RQ(a1, Z28, X28, BX, K3, 16(DX)); \
	DECQ CX; \
	JEQ DQDONE; \
	ADDQ R9, DX

// DOTRQ12x16 is the body of dotRqVNNI12x16 (RQ = RQACC) and of
// dotRqVNNI12x16H0 (RQ = RQACC0); the other parameters are its labels.
#define DOTRQ12x16(RQ, DQ16LOOP, DQ16DONE) \
	MOVQ a+0(FP), SI; \
	MOVQ lda+8(FP), R8; \
	MOVQ b+16(FP), DI; \
	MOVQ kq+24(FP), CX; \
	TILE_ROWS; \
	MOVQ p0+32(FP), AX; \
	INIT_ACC12(AX); \
DQ16LOOP: \
	VMOVDQU32 (DI), Z24; \
	DOT_12x16; \
	TILE_NEXT_K; \
	DECQ CX; \
	JNZ DQ16LOOP; \
	MOVQ p0+32(FP), DI; \
	MOVQ out+56(FP), DX; \
	MOVQ ldo+64(FP), R9; \
	MOVQ rows+72(FP), CX; \
	MOVQ cols+80(FP), AX; \
	MOVQ $-1, R11; \
	BZHIQ AX, R11, AX; \
	KMOVW AX, K2; \
	VMOVDQU32 ·rqhigh(SB), Z24; \
	MOVQ lo+40(FP), AX; \
	VPBROADCASTD AX, Z25; \
	MOVQ hi+48(FP), AX; \
	VPBROADCASTD AX, Z26; \
	RQ(Z0, Z27, X27, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z1, Z28, X28, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z2, Z27, X27, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z3, Z28, X28, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z4, Z27, X27, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z5, Z28, X28, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z6, Z27, X27, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z7, Z28, X28, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z8, Z27, X27, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z9, Z28, X28, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z10, Z27, X27, DI, K2, (DX)); \
	DECQ CX; \
	JEQ DQ16DONE; \
	ADDQ R9, DX; \
	RQ(Z11, Z28, X28, DI, K2, (DX)); \
DQ16DONE:

// DOTRQ12x32 is the body of dotRqVNNI12x32 (RQ = RQACC) and of
// dotRqVNNI12x32H0 (RQ = RQACC0); the other parameters are its labels.
#define DOTRQ12x32(RQ, DQLOOP, DQM0, DQM1, DQDONE) \
	MOVQ a+0(FP), SI; \
	MOVQ lda+8(FP), R8; \
	MOVQ b+16(FP), DI; \
	MOVQ kq+24(FP), CX; \
	TILE_ROWS; \
	MOVQ p0+32(FP), AX; \
	MOVQ p1+40(FP), BX; \
	INIT_ACC24(AX, BX); \
DQLOOP: \
	VMOVDQU32 (DI), Z24; \
	VMOVDQU32 64(DI), Z25; \
	DOT_12x32; \
	TILE_NEXT_K; \
	DECQ CX; \
	JNZ DQLOOP; \
	RQ_SETUP32(DQM0, DQM1); \
	RQ_ROW32(RQ, Z0, Z1, DQDONE); \
	RQ_ROW32(RQ, Z2, Z3, DQDONE); \
	RQ_ROW32(RQ, Z4, Z5, DQDONE); \
	RQ_ROW32(RQ, Z6, Z7, DQDONE); \
	RQ_ROW32(RQ, Z8, Z9, DQDONE); \
	RQ_ROW32(RQ, Z10, Z11, DQDONE); \
	RQ_ROW32(RQ, Z12, Z13, DQDONE); \
	RQ_ROW32(RQ, Z14, Z15, DQDONE); \
	RQ_ROW32(RQ, Z16, Z17, DQDONE); \
	RQ_ROW32(RQ, Z18, Z19, DQDONE); \
	RQ_ROW32(RQ, Z20, Z21, DQDONE); \
	RQ(Z22, Z27, X27, DI, K2, (DX)); \
	RQ(Z23, Z28, X28, BX, K3, 16(DX)); \
DQDONE:

// DOTRQ4x32 is DOTRQ12x32 for a tile of at most four rows (the last of a
// product whose row count leaves a remainder): eight accumulators, rows 0-3
// at (SI), (SI)(R8*1), (SI)(R8*2) and (R10).
#define DOTRQ4x32(RQ, DQLOOP, DQM0, DQM1, DQDONE) \
	MOVQ a+0(FP), SI; \
	MOVQ lda+8(FP), R8; \
	MOVQ b+16(FP), DI; \
	MOVQ kq+24(FP), CX; \
	LEAQ (R8)(R8*2), R9; \
	LEAQ (SI)(R9*1), R10; \
	MOVQ p0+32(FP), AX; \
	MOVQ p1+40(FP), BX; \
	VMOVDQU32 (AX), Z0; \
	VMOVDQU32 (BX), Z1; \
	VMOVDQA32 Z0, Z2; \
	VMOVDQA32 Z1, Z3; \
	VMOVDQA32 Z0, Z4; \
	VMOVDQA32 Z1, Z5; \
	VMOVDQA32 Z0, Z6; \
	VMOVDQA32 Z1, Z7; \
DQLOOP: \
	VMOVDQU32 (DI), Z24; \
	VMOVDQU32 64(DI), Z25; \
	DOT2((SI), Z26, Z0, Z1); \
	DOT2((SI)(R8*1), Z27, Z2, Z3); \
	DOT2((SI)(R8*2), Z28, Z4, Z5); \
	DOT2((R10), Z29, Z6, Z7); \
	ADDQ $4, SI; \
	ADDQ $4, R10; \
	ADDQ $128, DI; \
	DECQ CX; \
	JNZ DQLOOP; \
	RQ_SETUP32(DQM0, DQM1); \
	RQ_ROW32(RQ, Z0, Z1, DQDONE); \
	RQ_ROW32(RQ, Z2, Z3, DQDONE); \
	RQ_ROW32(RQ, Z4, Z5, DQDONE); \
	RQ(Z6, Z27, X27, DI, K2, (DX)); \
	RQ(Z7, Z28, X28, BX, K3, 16(DX)); \
DQDONE:

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

// func dotRqVNNI12x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
// dotVNNI12x32 with the output stage of two 16-column groups in rqFast
// mode (p0: columns 0-15, p1: 16-31; p1 may repeat p0 when cols <= 16)
// applied to the accumulators in registers: rows < 12 int8 rows of cols
// <= 32 values written to out (stride ldo), nothing else.
TEXT ·dotRqVNNI12x32(SB), NOSPLIT, $0-96
	DOTRQ12x32(RQACC, dqloop, dqm0, dqm1, dqdone)
	VZEROUPPER
	RET

// func dotRqVNNI12x16(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
// dotRqVNNI12x32 for a panel of at most 16 columns: only the first half of
// each packed k group is read, 12 accumulators.
TEXT ·dotRqVNNI12x16(SB), NOSPLIT, $0-88
	DOTRQ12x16(RQACC, dq16loop, dq16done)
	VZEROUPPER
	RET

// dotRqVNNI12x32H0 is dotRqVNNI12x32 for column groups whose h are all 0.
// func dotRqVNNI12x32H0(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI12x32H0(SB), NOSPLIT, $0-96
	DOTRQ12x32(RQACC0, dqlooph0, dqm0h0, dqm1h0, dqdoneh0)
	VZEROUPPER
	RET

// dotRqVNNI12x16H0 is dotRqVNNI12x16 for a column group whose h are all 0.
// func dotRqVNNI12x16H0(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI12x16H0(SB), NOSPLIT, $0-88
	DOTRQ12x16(RQACC0, dq16looph0, dq16doneh0)
	VZEROUPPER
	RET

// dotRqVNNI12x32F is dotRqVNNI12x32 for the full int8 clamp (no fused activation).
// func dotRqVNNI12x32F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI12x32F(SB), NOSPLIT, $0-96
	DOTRQ12x32(RQACCF, dqloopf, dqm0f, dqm1f, dqdonef)
	VZEROUPPER
	RET

// dotRqVNNI12x32H0F is dotRqVNNI12x32H0 for the full int8 clamp (no fused activation).
// func dotRqVNNI12x32H0F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI12x32H0F(SB), NOSPLIT, $0-96
	DOTRQ12x32(RQACC0F, dqlooph0f, dqm0h0f, dqm1h0f, dqdoneh0f)
	VZEROUPPER
	RET

// dotRqVNNI12x16F is dotRqVNNI12x16 for the full int8 clamp (no fused activation).
// func dotRqVNNI12x16F(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI12x16F(SB), NOSPLIT, $0-88
	DOTRQ12x16(RQACCF, dq16loopf, dq16donef)
	VZEROUPPER
	RET

// dotRqVNNI12x16H0F is dotRqVNNI12x16H0 for the full int8 clamp (no fused activation).
// func dotRqVNNI12x16H0F(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI12x16H0F(SB), NOSPLIT, $0-88
	DOTRQ12x16(RQACC0F, dq16looph0f, dq16doneh0f)
	VZEROUPPER
	RET

// The 4x32 kernels are the 12x32 ones for a tile of at most four rows
// (rows <= 4; p1 may repeat p0 when cols <= 16).
// func dotRqVNNI4x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI4x32(SB), NOSPLIT, $0-96
	DOTRQ4x32(RQACC, dq4loop, dq4m0, dq4m1, dq4done)
	VZEROUPPER
	RET

// func dotRqVNNI4x32H0(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI4x32H0(SB), NOSPLIT, $0-96
	DOTRQ4x32(RQACC0, dq4looph0, dq4m0h0, dq4m1h0, dq4doneh0)
	VZEROUPPER
	RET

// func dotRqVNNI4x32F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI4x32F(SB), NOSPLIT, $0-96
	DOTRQ4x32(RQACCF, dq4loopf, dq4m0f, dq4m1f, dq4donef)
	VZEROUPPER
	RET

// func dotRqVNNI4x32H0F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)
TEXT ·dotRqVNNI4x32H0F(SB), NOSPLIT, $0-96
	DOTRQ4x32(RQACC0F, dq4looph0f, dq4m0h0f, dq4m1h0f, dq4doneh0f)
	VZEROUPPER
	RET
