//go:build amd64 && !noasm

#include "textflag.h"
#include "qkernels_amd64.h"

// The AVX-512 VNNI depthwise convolution (depthwise.go): pixels of
// channels in lanes, two taps per VPDPWSSD. dwRowsVNNI stores int32
// accumulators; dwRows3x3RqVNNI, for a 3x3 window, runs the rqFast output
// stage (RQFAST, qkernels_amd64.h) on them in registers and stores int8.

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
	VMOVDQU32 ·rqhigh(SB), Z24
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
