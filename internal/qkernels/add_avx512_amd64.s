//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 (F and DQ) loop of AddRows (add.go): the rescaled int8
// addition in 64-bit integer lanes.

// func addRescale8(y, a, b *int8, n int, p *AddParams)
// Rescaled add of n int8 values, n a multiple of 8 (AVX-512F/DQ):
// p = (a-zpA)*mA + (b-zpB)*mB; y = clamp(round_half_even(p/2^shift)+zpOut, lo, hi).
TEXT ·addRescale8(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ p+32(FP), R8
	SHRQ $3, CX
	JEQ addone
	VPBROADCASTQ 0(R8), Z16  // zpA
	VPBROADCASTQ 8(R8), Z17  // zpB
	VPBROADCASTQ 16(R8), Z18 // mA
	VPBROADCASTQ 24(R8), Z19 // mB
	VMOVQ 32(R8), X20        // shift
	VPBROADCASTQ 40(R8), Z21 // half - 1
	VPBROADCASTQ 48(R8), Z22 // zpOut
	VPBROADCASTQ 56(R8), Z23 // lo
	VPBROADCASTQ 64(R8), Z24 // hi
	MOVQ $1, AX
	VPBROADCASTQ AX, Z25

adloop:
	VPMOVSXBQ (SI), Z0
	VPMOVSXBQ (DI), Z1
	VPSUBQ Z16, Z0, Z0
	VPSUBQ Z17, Z1, Z1
	VPMULLQ Z18, Z0, Z0
	VPMULLQ Z19, Z1, Z1
	VPADDQ Z1, Z0, Z0
	VPSRAQ X20, Z0, Z2
	VPANDQ Z25, Z2, Z2
	VPADDQ Z21, Z0, Z0
	VPADDQ Z2, Z0, Z0
	VPSRAQ X20, Z0, Z0
	VPADDQ Z22, Z0, Z0
	VPMAXSQ Z23, Z0, Z0
	VPMINSQ Z24, Z0, Z0
	VPMOVQB Z0, X0
	VMOVQ X0, (DX)
	ADDQ $8, SI
	ADDQ $8, DI
	ADDQ $8, DX
	DECQ CX
	JNZ adloop

addone:
	VZEROUPPER
	RET
