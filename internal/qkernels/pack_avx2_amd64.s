//go:build amd64 && !noasm

#include "textflag.h"

// The AVX2 loop of PackRow (gemm.go): int8 activations to the kernels'
// uint8 form (XOR 0x80).

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
