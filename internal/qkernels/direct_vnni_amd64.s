//go:build amd64 && !noasm

#include "textflag.h"
#include "qkernels_amd64.h"

// The AVX-512 VNNI micro-kernel of Gemm.RunDirect (direct.go): the 12x32
// tile of dotRqVNNI12x32 (gemm_vnni_amd64.s) with its rows read in place
// from a padded image, one window row (segment) after another, and each
// row's int8 results stored where a table of offsets says (or dropped).

// DOTRQDIRECT is the body of dotRqVNNIDirect12x32 (RQ = RQACC) and of
// dotRqVNNIDirect12x32H0 (RQ = RQACC0); the other parameters are its labels.
#define DOTRQDIRECT(RQ, DSEG, DLOOP, DDM0, DDM1) \
	MOVQ a+0(FP), SI; \
	MOVQ lda+8(FP), R8; \
	MOVQ b+16(FP), DI; \
	MOVQ segq+24(FP), R13; \
	MOVQ segs+32(FP), BX; \
	MOVQ segSkip+40(FP), DX; \
	DROWS; \
	MOVQ p0+48(FP), AX; \
	MOVQ p1+56(FP), R14; \
	INIT_ACC24(AX, R14); \
DSEG: \
	MOVQ R13, CX; \
DLOOP: \
	VMOVDQU32 (DI), Z24; \
	VMOVDQU32 64(DI), Z25; \
	DDOT2((SI), Z26, Z0, Z1); \
	DDOT2((SI)(R8*1), Z27, Z2, Z3); \
	DDOT2((SI)(R8*2), Z28, Z4, Z5); \
	DDOT2((R10), Z29, Z6, Z7); \
	DDOT2((R10)(R8*1), Z30, Z8, Z9); \
	DDOT2((R10)(R8*2), Z31, Z10, Z11); \
	DDOT2((R11), Z26, Z12, Z13); \
	DDOT2((R11)(R8*1), Z27, Z14, Z15); \
	DDOT2((R11)(R8*2), Z28, Z16, Z17); \
	DDOT2((R12), Z29, Z18, Z19); \
	DDOT2((R12)(R8*1), Z30, Z20, Z21); \
	DDOT2((R12)(R8*2), Z31, Z22, Z23); \
	DNEXT_K; \
	DECQ CX; \
	JNZ DLOOP; \
	ADDQ DX, SI; \
	ADDQ DX, R10; \
	ADDQ DX, R11; \
	ADDQ DX, R12; \
	DECQ BX; \
	JNZ DSEG; \
	MOVQ p0+48(FP), DI; \
	MOVQ p1+56(FP), BX; \
	MOVQ outs+80(FP), R13; \
	MOVQ out+88(FP), R12; \
	MOVQ cols+96(FP), R10; \
	MOVQ R10, AX; \
	CMPQ AX, $16; \
	JLE DDM0; \
	MOVQ $16, AX; \
DDM0: \
	MOVQ $-1, R11; \
	BZHIQ AX, R11, AX; \
	KMOVW AX, K2; \
	SUBQ $16, R10; \
	JGE DDM1; \
	XORQ R10, R10; \
DDM1: \
	MOVQ $-1, R11; \
	BZHIQ R10, R11, AX; \
	KMOVW AX, K3; \
	VMOVDQU32 ·rqhigh(SB), Z24; \
	MOVQ lo+64(FP), AX; \
	VPBROADCASTD AX, Z25; \
	MOVQ hi+72(FP), AX; \
	VPBROADCASTD AX, Z26; \
	DSTORE(RQ, Z0, Z1, 0, ds0); \
	DSTORE(RQ, Z2, Z3, 1, ds1); \
	DSTORE(RQ, Z4, Z5, 2, ds2); \
	DSTORE(RQ, Z6, Z7, 3, ds3); \
	DSTORE(RQ, Z8, Z9, 4, ds4); \
	DSTORE(RQ, Z10, Z11, 5, ds5); \
	DSTORE(RQ, Z12, Z13, 6, ds6); \
	DSTORE(RQ, Z14, Z15, 7, ds7); \
	DSTORE(RQ, Z16, Z17, 8, ds8); \
	DSTORE(RQ, Z18, Z19, 9, ds9); \
	DSTORE(RQ, Z20, Z21, 10, ds10); \
	DSTORE(RQ, Z22, Z23, 11, ds11)

#define DROWS \
	LEAQ (R8)(R8*2), R9; \
	LEAQ (SI)(R9*1), R10; \
	LEAQ (R10)(R9*1), R11; \
	LEAQ (R11)(R9*1), R12

#define DNEXT_K \
	ADDQ $4, SI; \
	ADDQ $4, R10; \
	ADDQ $4, R11; \
	ADDQ $4, R12; \
	ADDQ $128, DI

#define DDOT2(row, bc, a0, a1) \
	VPBROADCASTD row, bc; \
	VPDPBUSD Z24, bc, a0; \
	VPDPBUSD Z25, bc, a1

// DSTORE(RQ, a0, a1, r, skip): the output stage RQ of row r (accumulators a0,
// a1) stored at out + outs[r], unless outs[r] < 0. R13 holds outs, R12
// out, DI and BX the column groups' constants.
#define DSTORE(RQ, a0, a1, r, skip) \
	MOVQ (r*8)(R13), CX; \
	TESTQ CX, CX; \
	JS skip; \
	LEAQ (R12)(CX*1), DX; \
	RQ(a0, Z27, X27, DI, K2, (DX)); \
	RQ(a1, Z28, X28, BX, K3, 16(DX)); \
skip:

// func dotRqVNNIDirect12x32(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[12]int, out *int8, cols int)
TEXT ·dotRqVNNIDirect12x32(SB), NOSPLIT, $0-104
	DOTRQDIRECT(RQACC, dseg, dloop, ddm0, ddm1)
	VZEROUPPER
	RET

// dotRqVNNIDirect12x32H0 is dotRqVNNIDirect12x32 for column groups whose h
// are all 0.
// func dotRqVNNIDirect12x32H0(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[12]int, out *int8, cols int)
TEXT ·dotRqVNNIDirect12x32H0(SB), NOSPLIT, $0-104
	DOTRQDIRECT(RQACC0, dsegh0, dlooph0, ddm0h0, ddm1h0)
	VZEROUPPER
	RET

// dotRqVNNIDirect12x32F is dotRqVNNIDirect12x32 for the full int8 clamp (no fused activation).
// func dotRqVNNIDirect12x32F(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[12]int, out *int8, cols int)
TEXT ·dotRqVNNIDirect12x32F(SB), NOSPLIT, $0-104
	DOTRQDIRECT(RQACCF, dsegf, dloopf, ddm0f, ddm1f)
	VZEROUPPER
	RET

// dotRqVNNIDirect12x32H0F is dotRqVNNIDirect12x32H0 for the full int8 clamp (no fused activation).
// func dotRqVNNIDirect12x32H0F(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[12]int, out *int8, cols int)
TEXT ·dotRqVNNIDirect12x32H0F(SB), NOSPLIT, $0-104
	DOTRQDIRECT(RQACC0F, dsegh0f, dlooph0f, ddm0h0f, ddm1h0f)
	VZEROUPPER
	RET
