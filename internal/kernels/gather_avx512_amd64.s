//go:build amd64 && !noasm

#include "textflag.h"

// SumTaps' AVX-512F body (gather.go): per 16-channel block, an accumulator
// from +0 adds the taps in order.
// func f32SumTapsAVX512(d, src *float32, offs *int, ntaps, cv int)
TEXT ·f32SumTapsAVX512(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ ntaps+24(FP), R9
	MOVQ cv+32(FP), BX
	XORQ CX, CX // channel c of the block

sum_block:
	VPXORD Z0, Z0, Z0 // acc = +0
	XORQ   DX, DX     // tap t

sum_taps:
	MOVQ   (R8)(DX*8), AX
	ADDQ   CX, AX
	VADDPS (SI)(AX*4), Z0, Z0 // acc += src[offs[t]+c:]
	INCQ   DX
	CMPQ   DX, R9
	JLT    sum_taps

	VMOVUPS Z0, (DI)(CX*4)
	ADDQ    $16, CX
	CMPQ    CX, BX
	JLT     sum_block

	VZEROUPPER
	RET
