//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512F batch-normalization passes (bn.go, bn_amd64.go). Each walks
// the rows of a (rows, ld) float32 matrix and, per row, the channels
// [0, cv) 16 at a time; per-channel float64 sums live in memory (s, q),
// read and written once per block, so they stay in L1. The arithmetic is
// that of the Go loops, operation for operation (no FMA), so the results
// are the same bits; the backward passes recompute the activation's output
// from x to mask the gradient, with the operations of f32NormActAVX512.

// Constants shared by the kernels.
#define SIGN  Z30 // 16 x 0x80000000 (-0)
#define SIX   Z31 // 16 x 6.0
#define MONE  Z29 // 16 x int32 -1

// SETCONST sets SIGN, SIX and MONE (clobbers tmp).
#define SETCONST(tmp) \
	MOVL         $0x80000000, tmp \
	VPBROADCASTD tmp, SIGN \
	VPTERNLOGD   $0xff, MONE, MONE, MONE \
	MOVL         $0x40c00000, tmp \
	VPBROADCASTD tmp, SIX

// Go's max(v, 0) and min(v, 6) for float32, as the compiler lowers them on
// amd64 (so that NaNs come out with the same bits as in the Go loops:
// max clears a NaN's sign, min ORs 6's bits into it):
//
//	max(v, 0) = -(min(-v, -0) | min(min(-v, -0), -v))
//	min(v, 6) = min(v, 6) | min(min(v, 6), v)
//
// where min(a, b) is MINPS (a < b ? a : b, b when either is NaN) and | is
// the bitwise OR. They also give max(-0, 0) = +0 and min(+0, -0) = -0 as
// Go does. Each takes v in reg and leaves the result in reg, clobbering
// t1 and t2.
#define GOMAX0(reg, t1, t2) \
	VPXORD SIGN, reg, t1 \
	VMINPS SIGN, t1, t2 \
	VMINPS t1, t2, reg \
	VPORD  t2, reg, reg \
	VPXORD SIGN, reg, reg

#define GOMIN6(reg, t1, t2) \
	VMINPS SIX, reg, t1 \
	VMINPS reg, t1, t2 \
	VPORD  t1, t2, reg

// func f64ChannelSumsAVX512(x *float32, rows, ld, cv int, shift, s, q *float64)
TEXT ·f64ChannelSumsAVX512(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI      // row of x
	MOVQ rows+8(FP), CX   // rows left
	MOVQ ld+16(FP), DX
	SHLQ $2, DX           // row stride in bytes
	MOVQ cv+24(FP), BX
	SHLQ $2, BX           // bytes of the cv channels of a row
	MOVQ shift+32(FP), R8
	MOVQ s+40(FP), R9
	MOVQ q+48(FP), R10
	TESTQ CX, CX
	JLE  sums_done
	TESTQ BX, BX
	JLE  sums_done

sums_row:
	XORQ AX, AX   // byte offset of the block in the row (64 per block)
	XORQ R11, R11 // byte offset of the block in shift, s, q (128 per block)

sums_block:
	VCVTPS2PD (SI)(AX*1), Z0       // x[j:j+8] as float64
	VCVTPS2PD 32(SI)(AX*1), Z1     // x[j+8:j+16]
	VSUBPD    (R8)(R11*1), Z0, Z0  // d = x - shift
	VSUBPD    64(R8)(R11*1), Z1, Z1
	VADDPD    (R9)(R11*1), Z0, Z2  // s += d
	VADDPD    64(R9)(R11*1), Z1, Z3
	VMOVUPD   Z2, (R9)(R11*1)
	VMOVUPD   Z3, 64(R9)(R11*1)
	VMULPD    Z0, Z0, Z0           // d*d
	VMULPD    Z1, Z1, Z1
	VADDPD    (R10)(R11*1), Z0, Z0 // q += d*d
	VADDPD    64(R10)(R11*1), Z1, Z1
	VMOVUPD   Z0, (R10)(R11*1)
	VMOVUPD   Z1, 64(R10)(R11*1)
	ADDQ      $64, AX
	ADDQ      $128, R11
	CMPQ      AX, BX
	JLT       sums_block

	ADDQ DX, SI
	DECQ CX
	JNE  sums_row

sums_done:
	VZEROUPPER
	RET

// func f32NormActAVX512(x, y *float32, rows, ld, cv int, center, scale, beta *float32, act int)
TEXT ·f32NormActAVX512(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ cv+32(FP), BX
	SHLQ $2, BX // bytes of the cv channels of a row
	MOVQ center+40(FP), R8
	MOVQ scale+48(FP), R9
	MOVQ beta+56(FP), R10
	MOVQ act+64(FP), R11
	SETCONST(R13)
	TESTQ CX, CX
	JLE  norm_done
	TESTQ BX, BX
	JLE  norm_done

norm_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block)

norm_block:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS  (R8)(AX*1), Z0, Z0  // x - center
	VMULPS  (R9)(AX*1), Z0, Z0  // * scale
	VADDPS  (R10)(AX*1), Z0, Z0 // + beta
	CMPQ    R11, $0
	JEQ     norm_store
	GOMAX0(Z0, Z1, Z2)          // max(v, 0)
	CMPQ    R11, $1
	JEQ     norm_store
	GOMIN6(Z0, Z1, Z2)          // min(v, 6)

norm_store:
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, BX
	JLT     norm_block

	ADDQ DX, SI
	ADDQ DX, DI
	DECQ CX
	JNE  norm_row

norm_done:
	VZEROUPPER
	RET

// func f64ChannelGradSumsAVX512(x, dy *float32, rows, ld, cv int, zc, zs, zb *float32, center, s, q *float64, act int)
TEXT ·f64ChannelGradSumsAVX512(SB), NOSPLIT, $0-96
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ cv+32(FP), BX
	SHLQ $2, BX // bytes of the cv channels of a row
	MOVQ zc+40(FP), R8
	MOVQ zs+48(FP), R9
	MOVQ zb+56(FP), R10
	MOVQ center+64(FP), R11
	MOVQ s+72(FP), R12
	MOVQ q+80(FP), R13
	MOVQ act+88(FP), R14
	SETCONST(AX)
	TESTQ CX, CX
	JLE  grad_done
	TESTQ BX, BX
	JLE  grad_done

grad_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block; AX*2 in the float64 vectors)

grad_block:
	VMOVUPS (SI)(AX*1), Z20 // x
	CMPQ     R14, $0
	JEQ      grad_mask_all
	VSUBPS   (R8)(AX*1), Z20, Z21 // t = (x - center)*scale + beta
	VMULPS   (R9)(AX*1), Z21, Z21
	VADDPS   (R10)(AX*1), Z21, Z21
	GOMAX0(Z21, Z24, Z25)         // z = max(t, 0)
	VPADDD   MONE, Z21, Z22       // int32(bits(z)) - 1
	VPCMPGTD MONE, Z22, K1        // K1 = lanes where it is > -1
	CMPQ     R14, $2
	JNE      grad_mask_load
	GOMIN6(Z21, Z24, Z25)         // ReLU6: z = min(z, 6)
	VSUBPS   Z21, SIX, Z22        // 6 - z
	VPADDD   MONE, Z22, Z22
	VPCMPGTD MONE, Z22, K2
	KANDW    K2, K1, K1
	JMP      grad_mask_load

grad_mask_all:
	KXNORW K1, K1, K1 // linear: every lane

grad_mask_load:
	VMOVUPS.Z     (DI)(AX*1), K1, Z0 // g = masked dy
	VCVTPS2PD     Y0, Z1             // g[0:8] as float64
	VEXTRACTF64X4 $1, Z0, Y2
	VCVTPS2PD     Y2, Z2             // g[8:16]
	VCVTPS2PD     Y20, Z3            // x[0:8]
	VEXTRACTF64X4 $1, Z20, Y4
	VCVTPS2PD     Y4, Z4             // x[8:16]
	VSUBPD        (R11)(AX*2), Z3, Z3 // x - center
	VSUBPD        64(R11)(AX*2), Z4, Z4
	VMULPD        Z1, Z3, Z3          // g*(x - center)
	VMULPD        Z2, Z4, Z4
	VADDPD        (R12)(AX*2), Z1, Z1 // s += g
	VADDPD        64(R12)(AX*2), Z2, Z2
	VMOVUPD       Z1, (R12)(AX*2)
	VMOVUPD       Z2, 64(R12)(AX*2)
	VADDPD        (R13)(AX*2), Z3, Z3 // q += g*(x - center)
	VADDPD        64(R13)(AX*2), Z4, Z4
	VMOVUPD       Z3, (R13)(AX*2)
	VMOVUPD       Z4, 64(R13)(AX*2)
	ADDQ          $64, AX
	CMPQ          AX, BX
	JLT           grad_block

	ADDQ DX, SI
	ADDQ DX, DI
	DECQ CX
	JNE  grad_row

grad_done:
	VZEROUPPER
	RET

// func f32NormActGradAVX512(x, dy, dx *float32, rows, ld, cv int, center, scale, beta, k1, k2, k3 *float32, act int)
TEXT ·f32NormActGradAVX512(SB), NOSPLIT, $0-104
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ dx+16(FP), R8
	MOVQ rows+24(FP), CX
	MOVQ ld+32(FP), DX
	SHLQ $2, DX
	MOVQ cv+40(FP), BX
	SHLQ $2, BX // bytes of the cv channels of a row
	MOVQ center+48(FP), R9
	MOVQ scale+56(FP), R10
	MOVQ beta+64(FP), R11
	MOVQ k1+72(FP), R12
	MOVQ k2+80(FP), R13
	MOVQ k3+88(FP), R14
	SETCONST(AX)
	TESTQ CX, CX
	JLE  dx_done
	TESTQ BX, BX
	JLE  dx_done

dx_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block)

dx_block:
	VMOVUPS (SI)(AX*1), Z20       // x
	VSUBPS  (R9)(AX*1), Z20, Z23  // x - center
	CMPQ     act+96(FP), $0
	JEQ      dx_mask_all
	VMULPS   (R10)(AX*1), Z23, Z21 // t = (x - center)*scale + beta
	VADDPS   (R11)(AX*1), Z21, Z21
	GOMAX0(Z21, Z24, Z25)         // z = max(t, 0)
	VPADDD   MONE, Z21, Z22       // int32(bits(z)) - 1
	VPCMPGTD MONE, Z22, K1        // K1 = lanes where it is > -1
	CMPQ     act+96(FP), $2
	JNE      dx_mask_load
	GOMIN6(Z21, Z24, Z25)         // ReLU6: z = min(z, 6)
	VSUBPS   Z21, SIX, Z22        // 6 - z
	VPADDD   MONE, Z22, Z22
	VPCMPGTD MONE, Z22, K2
	KANDW    K2, K1, K1
	JMP      dx_mask_load

dx_mask_all:
	KXNORW K1, K1, K1 // linear: every lane

dx_mask_load:
	VMOVUPS.Z (DI)(AX*1), K1, Z0 // g = masked dy
	VMULPS    (R12)(AX*1), Z0, Z0 // k1*g
	VMULPS    (R13)(AX*1), Z23, Z1 // k2*(x - center)
	VADDPS    Z1, Z0, Z0          // k1*g + k2*(x - center)
	VADDPS    (R14)(AX*1), Z0, Z0 // + k3
	VMOVUPS   Z0, (R8)(AX*1)
	ADDQ      $64, AX
	CMPQ      AX, BX
	JLT       dx_block

	ADDQ DX, SI
	ADDQ DX, DI
	ADDQ DX, R8
	DECQ CX
	JNE  dx_row

dx_done:
	VZEROUPPER
	RET
