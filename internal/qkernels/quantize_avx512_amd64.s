//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 float-to-int8 input quantizer (quantize.go): 16 floats per
// step, scaled, clamped, NaN lanes zeroed, converted with round to nearest
// even (embedded rounding: MXCSR plays no part), offset by the zero point
// and narrowed to bytes.

// func quantizeF32AVX512(q *int8, x *float32, n int, inv, lo, hi float32, zp int32)
TEXT ·quantizeF32AVX512(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS inv+24(FP), Z1
	VBROADCASTSS lo+28(FP), Z2
	VBROADCASTSS hi+32(FP), Z3
	MOVL zp+36(FP), AX
	VPBROADCASTD AX, Z4
	SHRQ $4, CX
	JZ done

qloop:
	VMULPS (SI), Z1, Z0
	VCMPPS $7, Z0, Z0, K1 // ordered: the lanes that are not NaN
	VMAXPS Z2, Z0, Z0
	VMINPS Z3, Z0, Z0
	VCVTPS2DQ.RN_SAE.Z Z0, K1, Z5
	VPADDD Z4, Z5, Z5
	VPMOVSDB Z5, X5
	VMOVDQU X5, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ CX
	JNZ qloop

done:
	VZEROUPPER
	RET
