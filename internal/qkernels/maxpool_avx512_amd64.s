//go:build amd64 && !noasm

#include "textflag.h"

// MaxWindows with AVX-512BW (maxpool.go): 64 channels a step, the last
// step masked.

// func maxWindows512(y, x *int8, offs *int, taps, n, c, step int)
TEXT ·maxWindows512(SB), NOSPLIT, $0-56
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ taps+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), DX
	MOVQ step+48(FP), R10
	MOVQ DX, AX
	ANDQ $63, AX
	MOVQ $-1, R11
	BZHIQ AX, R11, AX
	KMOVQ AX, K1 // the channels of the last, partial step
	MOVQ DX, R13
	ANDQ $-64, R13 // the channels of the full steps

mwpixel:
	XORQ BX, BX

mwfull:
	CMPQ BX, R13
	JGE mwtail
	MOVQ (R8), R11
	LEAQ (SI)(R11*1), R12
	VMOVDQU8 (R12)(BX*1), Z0
	MOVQ $1, AX

mwtap:
	CMPQ AX, R9
	JGE mwstore
	MOVQ (R8)(AX*8), R11
	LEAQ (SI)(R11*1), R12
	VPMAXSB (R12)(BX*1), Z0, Z0
	INCQ AX
	JMP mwtap

mwstore:
	VMOVDQU8 Z0, (DI)(BX*1)
	ADDQ $64, BX
	JMP mwfull

mwtail:
	CMPQ BX, DX
	JGE mwnext
	MOVQ (R8), R11
	LEAQ (SI)(R11*1), R12
	VMOVDQU8.Z (R12)(BX*1), K1, Z0
	MOVQ $1, AX

mwttap:
	CMPQ AX, R9
	JGE mwtstore
	MOVQ (R8)(AX*8), R11
	LEAQ (SI)(R11*1), R12
	VMOVDQU8.Z (R12)(BX*1), K1, Z1
	VPMAXSB Z1, Z0, Z0
	INCQ AX
	JMP mwttap

mwtstore:
	VMOVDQU8 Z0, K1, (DI)(BX*1)

mwnext:
	ADDQ R10, SI
	ADDQ DX, DI
	DECQ CX
	JNZ mwpixel
	VZEROUPPER
	RET
