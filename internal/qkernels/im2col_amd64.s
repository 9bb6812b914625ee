//go:build amd64 && !noasm

#include "textflag.h"

// The im2col copy of CopyWindows (gemm.go): plain 8-byte moves, no SIMD
// (built and used with the SIMD paths).

// func copyWindows(dst *uint8, lda int, src *uint8, offs *int, n, kh, seg, rowStep int)
// For r < n and ky < kh: the seg bytes at src[offs[r]+ky*rowStep] moved to
// dst[r*lda+ky*seg], 8 bytes a move (each move may overrun by up to 7).
TEXT ·copyWindows(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ lda+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ offs+24(FP), R9
	MOVQ n+32(FP), R10
	MOVQ seg+48(FP), R12
	MOVQ rowStep+56(FP), R13
	TESTQ R10, R10
	JEQ cwdone

cwrow:
	MOVQ (R9), AX
	ADDQ SI, AX // the window's first row
	MOVQ DI, BX // its im2col row
	MOVQ kh+40(FP), R11

cwky:
	XORQ CX, CX

cwword:
	MOVQ (AX)(CX*1), DX
	MOVQ DX, (BX)(CX*1)
	ADDQ $8, CX
	CMPQ CX, R12
	JLT cwword
	ADDQ R13, AX
	ADDQ R12, BX
	DECQ R11
	JNZ cwky
	ADDQ $8, R9
	ADDQ R8, DI
	DECQ R10
	JNZ cwrow

cwdone:
	RET
