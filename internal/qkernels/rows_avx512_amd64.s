//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 loop of MulAddRow (rows.go).

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
