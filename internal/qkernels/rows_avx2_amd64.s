//go:build amd64 && !noasm

#include "textflag.h"

// The AVX2 loops of the row helpers (rows.go): MaxRow and MulAddRow.

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
