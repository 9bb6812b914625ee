//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512F per-tensor fake quant passes (fq_tensor.go,
// fq_tensor_amd64.go), 16 values per step, the operations of the Go loops
// in the same order (min and max as MINPS and MAXPS with the operand order
// of the Go comparisons, so that NaNs are handled as the loops handle
// them).

// func f32FakeQuantAVX512(x, y *float32, n int, c *[4]float32)
TEXT ·f32FakeQuantAVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	MOVQ         c+24(FP), AX
	VBROADCASTSS 0(AX), Z25 // scale
	VBROADCASTSS 4(AX), Z26 // inv
	VBROADCASTSS 8(AX), Z27 // lo
	VBROADCASTSS 12(AX), Z28 // hi
	MOVL         $0x4b400000, AX
	VPBROADCASTD AX, Z24     // 1.5*2^23
	SHLQ         $2, CX      // bytes
	XORQ         AX, AX
	TESTQ        CX, CX
	JLE          fq_done

fq_loop:
	VMOVUPS (SI)(AX*1), Z0
	VMULPS  Z26, Z0, Z0 // t = x*inv
	VMAXPS  Z0, Z27, Z0 // lo > t ? lo : t (if t < lo { t = lo }; NaN stays)
	VMINPS  Z0, Z28, Z0 // hi < t ? hi : t (if t > hi { t = hi })
	VADDPS  Z24, Z0, Z0 // (t + magic) - magic: round half to even
	VSUBPS  Z24, Z0, Z0
	VMULPS  Z25, Z0, Z0 // * scale
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     fq_loop

fq_done:
	VZEROUPPER
	RET

// func f32FakeQuantGradAVX512(x, dy, dx *float32, n int, c *[4]float32)
TEXT ·f32FakeQuantGradAVX512(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         dy+8(FP), DI
	MOVQ         dx+16(FP), R8
	MOVQ         n+24(FP), CX
	MOVQ         c+32(FP), AX
	VBROADCASTSS 4(AX), Z26 // inv
	VBROADCASTSS 8(AX), Z27 // lo
	VBROADCASTSS 12(AX), Z28 // hi
	SHLQ         $2, CX      // bytes
	XORQ         AX, AX
	TESTQ        CX, CX
	JLE          ste_done

ste_loop:
	VMOVUPS   (SI)(AX*1), Z0
	VMULPS    Z26, Z0, Z0       // t = x*inv
	VCMPPS    $0x15, Z27, Z0, K1 // !(t < lo)
	VCMPPS    $0x1a, Z28, Z0, K2 // !(t > hi)
	KANDW     K2, K1, K1
	VMOVUPS.Z (DI)(AX*1), K1, Z1 // dy where inside, +0 elsewhere
	VMOVUPS   Z1, (R8)(AX*1)
	ADDQ      $64, AX
	CMPQ      AX, CX
	JLT       ste_loop

ste_done:
	VZEROUPPER
	RET

// func f32MinMaxAVX512(x *float32, n int, lanes *[32]float32)
TEXT ·f32MinMaxAVX512(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVQ         lanes+16(FP), DI
	MOVL         $0x7f800000, AX
	VPBROADCASTD AX, Z1 // lo = +Inf
	MOVL         $0xff800000, AX
	VPBROADCASTD AX, Z2 // hi = -Inf
	SHLQ         $2, CX // bytes
	XORQ         AX, AX
	TESTQ        CX, CX
	JLE          mm_store

mm_loop:
	VMOVUPS (SI)(AX*1), Z0
	VMINPS  Z1, Z0, Z1 // v < lo ? v : lo
	VMAXPS  Z2, Z0, Z2 // v > hi ? v : hi
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     mm_loop

mm_store:
	VMOVUPS Z1, (DI)
	VMOVUPS Z2, 64(DI)
	VZEROUPPER
	RET
