//go:build amd64 && !noasm

#include "textflag.h"

// The AVX2 depthwise convolution (depthwise.go): dwRowsVNNI's loop with
// VPMADDWD, on weights packed in AVX2 lane order.

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
