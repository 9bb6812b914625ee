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

// SumTapsRun's AVX-512F body (gather.go): SumTaps' loop for each of count
// pixels, d and src moving by dstStep and srcStep floats per pixel. Four
// pixels at a time, each 16-channel block with four independent
// accumulators (one per pixel, each from +0 adding the taps in order, so
// that the chains of dependent adds overlap), then the rest one by one.
// func f32SumTapsRunAVX512(d, src *float32, offs *int, ntaps, cv, count, dstStep, srcStep int)
TEXT ·f32SumTapsRunAVX512(SB), NOSPLIT, $0-64
	MOVQ d+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ ntaps+24(FP), R9
	MOVQ cv+32(FP), BX
	MOVQ count+40(FP), R10
	MOVQ dstStep+48(FP), R11
	SHLQ $2, R11
	MOVQ srcStep+56(FP), R12
	SHLQ $2, R12

run_quad:
	CMPQ R10, $4
	JLT  run_single
	LEAQ (SI)(R12*1), R14 // pixel 1's src
	LEAQ (R14)(R12*1), R15 // pixel 2's
	LEAQ (R15)(R12*1), R13 // pixel 3's
	XORQ CX, CX // channel c of the block

quad_block:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ   DX, DX

quad_taps:
	MOVQ   (R8)(DX*8), AX
	ADDQ   CX, AX
	VADDPS (SI)(AX*4), Z0, Z0
	VADDPS (R14)(AX*4), Z1, Z1
	VADDPS (R15)(AX*4), Z2, Z2
	VADDPS (R13)(AX*4), Z3, Z3
	INCQ   DX
	CMPQ   DX, R9
	JLT    quad_taps

	VMOVUPS Z0, (DI)(CX*4)
	LEAQ    (DI)(R11*1), AX
	VMOVUPS Z1, (AX)(CX*4)
	ADDQ    R11, AX
	VMOVUPS Z2, (AX)(CX*4)
	ADDQ    R11, AX
	VMOVUPS Z3, (AX)(CX*4)
	ADDQ    $16, CX
	CMPQ    CX, BX
	JLT     quad_block

	LEAQ (SI)(R12*4), SI
	LEAQ (DI)(R11*4), DI
	SUBQ $4, R10
	JMP  run_quad

run_single:
	CMPQ R10, $0
	JEQ  run_done
	XORQ CX, CX

single_block:
	VPXORD Z0, Z0, Z0
	XORQ   DX, DX

single_taps:
	MOVQ   (R8)(DX*8), AX
	ADDQ   CX, AX
	VADDPS (SI)(AX*4), Z0, Z0
	INCQ   DX
	CMPQ   DX, R9
	JLT    single_taps

	VMOVUPS Z0, (DI)(CX*4)
	ADDQ    $16, CX
	CMPQ    CX, BX
	JLT     single_block

	ADDQ R11, DI
	ADDQ R12, SI
	DECQ R10
	JMP  run_single

run_done:
	VZEROUPPER
	RET
