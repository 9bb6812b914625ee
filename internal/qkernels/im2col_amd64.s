//go:build amd64 && !noasm

#include "textflag.h"

// The im2col copy of CopyWindows (gemm.go): one 16-byte move per segment
// of at most 16 bytes, else 32-byte moves (AVX; built and used with the
// SIMD paths).

// func copyWindows(dst *uint8, lda int, src *uint8, offs *int, n, kh, seg, rowStep int)
// For r < n and ky < kh: the seg bytes at src[offs[r]+ky*rowStep] moved to
// dst[r*lda+ky*seg], a vector a move (each move may overrun by up to 31).
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
	CMPQ R12, $16
	JGT cw32row

cw16row:
	MOVQ (R9), AX
	ADDQ SI, AX // the window's first row
	MOVQ DI, BX // its im2col row
	MOVQ kh+40(FP), R11

cw16ky:
	VMOVDQU (AX), X0
	VMOVDQU X0, (BX)
	ADDQ R13, AX
	ADDQ R12, BX
	DECQ R11
	JNZ cw16ky
	ADDQ $8, R9
	ADDQ R8, DI
	DECQ R10
	JNZ cw16row
	RET

cw32row:
	MOVQ (R9), AX
	ADDQ SI, AX
	MOVQ DI, BX
	MOVQ kh+40(FP), R11

cw32ky:
	XORQ CX, CX

cw32word:
	VMOVDQU (AX)(CX*1), Y0
	VMOVDQU Y0, (BX)(CX*1)
	ADDQ $32, CX
	CMPQ CX, R12
	JLT cw32word
	ADDQ R13, AX
	ADDQ R12, BX
	DECQ R11
	JNZ cw32ky
	ADDQ $8, R9
	ADDQ R8, DI
	DECQ R10
	JNZ cw32row
	VZEROUPPER

cwdone:
	RET
