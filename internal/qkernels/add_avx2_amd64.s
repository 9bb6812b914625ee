//go:build amd64 && !noasm

#include "textflag.h"

// The AVX2 loop of AddRows (add.go): the rescaled int8 addition in exact
// float64 arithmetic.

// func addRescaleAVX2(y, a, b *int8, n int, p *AddParams)
// AddRows' AVX2 loop on n values, n a multiple of 8, in float64 (exact,
// see AddParams): q = round_half_even((a*MA + b*MB + C) * 2^-shift).
TEXT ·addRescaleAVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ p+32(FP), R8
	SHRQ $3, CX
	JEQ a2done
	VBROADCASTSD 72(R8), Y8   // MA
	VBROADCASTSD 80(R8), Y9   // MB
	VBROADCASTSD 88(R8), Y10  // C
	VBROADCASTSD 96(R8), Y11  // 2^-shift
	VBROADCASTSD 104(R8), Y12 // zpOut
	VBROADCASTSD 112(R8), Y13 // lo
	VBROADCASTSD 120(R8), Y14 // hi

a2loop:
	VPMOVSXBD (SI), X0
	VPMOVSXBD 4(SI), X1
	VPMOVSXBD (DI), X2
	VPMOVSXBD 4(DI), X3
	VCVTDQ2PD X0, Y0
	VCVTDQ2PD X1, Y1
	VCVTDQ2PD X2, Y2
	VCVTDQ2PD X3, Y3
	VFMADD213PD Y10, Y8, Y0 // a*MA + C
	VFMADD213PD Y10, Y8, Y1
	VFMADD231PD Y9, Y2, Y0  // + b*MB
	VFMADD231PD Y9, Y3, Y1
	VMULPD Y11, Y0, Y0
	VMULPD Y11, Y1, Y1
	VROUNDPD $0, Y0, Y0 // to nearest, ties to even
	VROUNDPD $0, Y1, Y1
	VADDPD Y12, Y0, Y0
	VADDPD Y12, Y1, Y1
	VMAXPD Y13, Y0, Y0
	VMAXPD Y13, Y1, Y1
	VMINPD Y14, Y0, Y0
	VMINPD Y14, Y1, Y1
	VCVTPD2DQY Y0, X0
	VCVTPD2DQY Y1, X1
	VPACKSSDW X1, X0, X0
	VPACKSSWB X0, X0, X0
	VMOVQ X0, (DX)
	ADDQ $8, SI
	ADDQ $8, DI
	ADDQ $8, DX
	DECQ CX
	JNZ a2loop

a2done:
	VZEROUPPER
	RET
