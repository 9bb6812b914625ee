//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 loop of PackSegments (gemm.go): segments of int8
// activations to the kernels' uint8 form (XOR 0x80), masked tails.

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
