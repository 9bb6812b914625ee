//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512F folded passes (fq_fold.go, fq_fold_amd64.go). Each walks
// the rows of a (rows, ld) float32 matrix z and, per row, the channels
// [0, cv) 16 at a time, recomputing u = z*inv + bias and the normalized
// t = (u - center)*scale + beta from z; per-channel float64 sums and
// float32 extremes live in memory, read and written once per block (they
// stay in L1). The arithmetic is that of the Go loops, operation for
// operation (no FMA), so the results are the same bits.
//
// The gradient mask: the Go loops test the activation's output a, and
// (quant) a*qinv against the range; the kernels test t, which is the same
// test: for ReLU a = max(t, 0) > 0 exactly when t > 0 (NaN: neither), for
// ReLU6 a = min(max(t, 0), 6) is in (0, 6) exactly when t is, and where
// the activation passes the gradient a is t itself.

// Constants shared by the kernels.
#define SIGN  Z30 // 16 x 0x80000000 (-0)
#define SIX   Z31 // 16 x 6.0
#define ZERO  Z23 // 16 x +0
#define MAGIC Z24 // 16 x 1.5*2^23, the rounding constant
#define QS    Z25 // 16 x qscale
#define QINV  Z26 // 16 x qinv
#define QLO   Z27 // 16 x qlo
#define QHI   Z28 // 16 x qhi

// SETCONST sets SIGN, SIX, ZERO, MAGIC and the fake quant constants from
// qc (a pointer register, clobbered).
#define SETCONST(qc) \
	VBROADCASTSS 0(qc), QS \
	VBROADCASTSS 4(qc), QINV \
	VBROADCASTSS 8(qc), QLO \
	VBROADCASTSS 12(qc), QHI \
	MOVL         $0x4b400000, qc \
	VPBROADCASTD qc, MAGIC \
	MOVL         $0x80000000, qc \
	VPBROADCASTD qc, SIGN \
	MOVL         $0x40c00000, qc \
	VPBROADCASTD qc, SIX \
	VPXORD       ZERO, ZERO, ZERO

// Go's max(v, 0) and min(v, 6) for float32, as the compiler lowers them on
// amd64 (the same macros as bn_avx512_amd64.s: NaN bits included, and
// max(-0, 0) = +0):
//
//	max(v, 0) = -(min(-v, -0) | min(min(-v, -0), -v))
//	min(v, 6) = min(v, 6) | min(min(v, 6), v)
//
// Each takes v in reg and leaves the result in reg, clobbering t1 and t2.
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

// GRADMASK sets K1 to the lanes of t where the gradient passes, for the
// mode word in flag (a register; bits 0-1 the activation, bit 2 quant),
// clobbering tq, K2 and K3: every lane, then for ReLU and ReLU6 t > 0
// (ordered: not NaN), for ReLU6 t < 6, for quant !(t*qinv < qlo) and
// !(t*qinv > qhi). It defines the labels mask_quant and mask_end (labels
// are per function: one use per function).
#define GRADMASK(t, flag, tq) \
	KXNORW K1, K1, K1 \
	TESTQ  $3, flag \
	JEQ    mask_quant \
	VCMPPS $0x1e, ZERO, t, K1 \
	TESTQ  $2, flag \
	JEQ    mask_quant \
	VCMPPS $0x11, SIX, t, K2 \
	KANDW  K2, K1, K1 \
mask_quant: \
	TESTQ  $4, flag \
	JEQ    mask_end \
	VMULPS QINV, t, tq \
	VCMPPS $0x15, QLO, tq, K2 \
	VCMPPS $0x1a, QHI, tq, K3 \
	KANDW  K2, K1, K1 \
	KANDW  K3, K1, K1 \
mask_end:

// func f64FoldStatsAVX512(z *float32, rows, ld, cv int, inv, bias *float32, shift, s, q *float64, lo, hi *float32)
TEXT ·f64FoldStatsAVX512(SB), NOSPLIT, $0-88
	MOVQ  z+0(FP), SI     // row of z
	MOVQ  rows+8(FP), CX  // rows left
	MOVQ  ld+16(FP), DX
	SHLQ  $2, DX          // row stride in bytes
	MOVQ  cv+24(FP), BX
	SHLQ  $2, BX          // bytes of the cv channels of a row
	MOVQ  inv+32(FP), R8
	MOVQ  bias+40(FP), R9
	MOVQ  shift+48(FP), R10
	MOVQ  s+56(FP), R11
	MOVQ  q+64(FP), R12
	MOVQ  lo+72(FP), R13
	MOVQ  hi+80(FP), R14
	TESTQ CX, CX
	JLE   stats_done
	TESTQ BX, BX
	JLE   stats_done

stats_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block; AX*2 in the float64 vectors)

stats_block:
	VMOVUPS       (SI)(AX*1), Z0
	VMULPS        (R8)(AX*1), Z0, Z0   // z*inv
	VADDPS        (R9)(AX*1), Z0, Z0   // u = z*inv + bias
	VMINPS        (R13)(AX*1), Z0, Z1  // u < lo ? u : lo
	VMOVUPS       Z1, (R13)(AX*1)
	VMAXPS        (R14)(AX*1), Z0, Z1  // u > hi ? u : hi
	VMOVUPS       Z1, (R14)(AX*1)
	VCVTPS2PD     Y0, Z1               // u[0:8] as float64
	VEXTRACTF64X4 $1, Z0, Y2
	VCVTPS2PD     Y2, Z2               // u[8:16]
	VSUBPD        (R10)(AX*2), Z1, Z1  // d = u - shift
	VSUBPD        64(R10)(AX*2), Z2, Z2
	VADDPD        (R11)(AX*2), Z1, Z3  // s += d
	VADDPD        64(R11)(AX*2), Z2, Z4
	VMOVUPD       Z3, (R11)(AX*2)
	VMOVUPD       Z4, 64(R11)(AX*2)
	VMULPD        Z1, Z1, Z1           // d*d
	VMULPD        Z2, Z2, Z2
	VADDPD        (R12)(AX*2), Z1, Z1  // q += d*d
	VADDPD        64(R12)(AX*2), Z2, Z2
	VMOVUPD       Z1, (R12)(AX*2)
	VMOVUPD       Z2, 64(R12)(AX*2)
	ADDQ          $64, AX
	CMPQ          AX, BX
	JLT           stats_block

	ADDQ DX, SI
	DECQ CX
	JNE  stats_row

stats_done:
	VZEROUPPER
	RET

// func f32FoldForwardAVX512(z, out *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int)
TEXT ·f32FoldForwardAVX512(SB), NOSPLIT, $0-96
	MOVQ z+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ cv+32(FP), BX
	SHLQ $2, BX // bytes of the cv channels of a row
	MOVQ inv+40(FP), R8
	MOVQ bias+48(FP), R9
	MOVQ center+56(FP), R10
	MOVQ scale+64(FP), R11
	MOVQ beta+72(FP), R12
	MOVQ qc+80(FP), R13
	SETCONST(R13)
	MOVQ flag+88(FP), R13
	MOVQ R13, R14
	ANDQ $3, R13 // activation
	ANDQ $4, R14 // quant
	TESTQ CX, CX
	JLE  fwd_done
	TESTQ BX, BX
	JLE  fwd_done

fwd_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block)

fwd_block:
	VMOVUPS (SI)(AX*1), Z0
	VMULPS  (R8)(AX*1), Z0, Z0  // z*inv
	VADDPS  (R9)(AX*1), Z0, Z0  // u = z*inv + bias
	VSUBPS  (R10)(AX*1), Z0, Z0 // u - center
	VMULPS  (R11)(AX*1), Z0, Z0 // * scale
	VADDPS  (R12)(AX*1), Z0, Z0 // t = ... + beta
	CMPQ    R13, $0
	JEQ     fwd_quant
	GOMAX0(Z0, Z1, Z2)          // max(t, 0)
	CMPQ    R13, $1
	JEQ     fwd_quant
	GOMIN6(Z0, Z1, Z2)          // min(a, 6)

fwd_quant:
	TESTQ  R14, R14
	JEQ    fwd_store
	VMULPS QINV, Z0, Z0 // t = a*qinv
	VMAXPS Z0, QLO, Z0  // qlo > t ? qlo : t (if t < qlo { t = qlo }; NaN stays)
	VMINPS Z0, QHI, Z0  // qhi < t ? qhi : t (if t > qhi { t = qhi })
	VADDPS MAGIC, Z0, Z0 // (t + magic) - magic: round half to even
	VSUBPS MAGIC, Z0, Z0
	VMULPS QS, Z0, Z0    // * qscale

fwd_store:
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, BX
	JLT     fwd_block

	ADDQ DX, SI
	ADDQ DX, DI
	DECQ CX
	JNE  fwd_row

fwd_done:
	VZEROUPPER
	RET

// func f64FoldGradSumsAVX512(z, dy *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int, center64, s, q *float64)
TEXT ·f64FoldGradSumsAVX512(SB), NOSPLIT, $0-120
	MOVQ z+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ cv+32(FP), BX
	SHLQ $2, BX // bytes of the cv channels of a row
	MOVQ inv+40(FP), R8
	MOVQ bias+48(FP), R9
	MOVQ center+56(FP), R10
	MOVQ scale+64(FP), R11
	MOVQ beta+72(FP), R12
	MOVQ qc+80(FP), R13
	SETCONST(R13)
	MOVQ center64+96(FP), R13
	TESTQ CX, CX
	JLE  gs_done
	TESTQ BX, BX
	JLE  gs_done

gs_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block; AX*2 in the float64 vectors)

gs_block:
	VMOVUPS (SI)(AX*1), Z0
	VMULPS  (R8)(AX*1), Z0, Z0  // z*inv
	VADDPS  (R9)(AX*1), Z0, Z0  // u = z*inv + bias
	VSUBPS  (R10)(AX*1), Z0, Z1 // u - center
	VMULPS  (R11)(AX*1), Z1, Z1 // * scale
	VADDPS  (R12)(AX*1), Z1, Z1 // t = ... + beta
	MOVQ    flag+88(FP), R14
	GRADMASK(Z1, R14, Z2)
	VMOVUPS.Z     (DI)(AX*1), K1, Z3 // g = masked dy
	VCVTPS2PD     Y3, Z4             // g[0:8] as float64
	VEXTRACTF64X4 $1, Z3, Y5
	VCVTPS2PD     Y5, Z5             // g[8:16]
	VCVTPS2PD     Y0, Z6             // u[0:8]
	VEXTRACTF64X4 $1, Z0, Y7
	VCVTPS2PD     Y7, Z7             // u[8:16]
	VSUBPD        (R13)(AX*2), Z6, Z6 // u - center64
	VSUBPD        64(R13)(AX*2), Z7, Z7
	VMULPD        Z4, Z6, Z6          // g*(u - center64)
	VMULPD        Z5, Z7, Z7
	MOVQ          s+104(FP), R14
	VADDPD        (R14)(AX*2), Z4, Z4 // s += g
	VADDPD        64(R14)(AX*2), Z5, Z5
	VMOVUPD       Z4, (R14)(AX*2)
	VMOVUPD       Z5, 64(R14)(AX*2)
	MOVQ          q+112(FP), R14
	VADDPD        (R14)(AX*2), Z6, Z6 // q += g*(u - center64)
	VADDPD        64(R14)(AX*2), Z7, Z7
	VMOVUPD       Z6, (R14)(AX*2)
	VMOVUPD       Z7, 64(R14)(AX*2)
	ADDQ          $64, AX
	CMPQ          AX, BX
	JLT           gs_block

	ADDQ DX, SI
	ADDQ DX, DI
	DECQ CX
	JNE  gs_row

gs_done:
	VZEROUPPER
	RET

// func f32FoldGradAVX512(z, dy, dz *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int, k1, k2, k3 *float32, s1, s2 *float64)
TEXT ·f32FoldGradAVX512(SB), NOSPLIT, $0-144
	MOVQ z+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ dz+16(FP), R8
	MOVQ rows+24(FP), CX
	MOVQ ld+32(FP), DX
	SHLQ $2, DX
	MOVQ cv+40(FP), BX
	SHLQ $2, BX // bytes of the cv channels of a row
	MOVQ inv+48(FP), R9
	MOVQ bias+56(FP), R10
	MOVQ center+64(FP), R11
	MOVQ scale+72(FP), R12
	MOVQ beta+80(FP), R13
	MOVQ qc+88(FP), R14
	SETCONST(R14)
	TESTQ CX, CX
	JLE  g_done
	TESTQ BX, BX
	JLE  g_done

g_row:
	XORQ AX, AX // byte offset of the block in the row (64 per block; AX*2 in the float64 vectors)

g_block:
	VMOVUPS (SI)(AX*1), Z6      // z
	VMULPS  (R9)(AX*1), Z6, Z0  // z*inv
	VADDPS  (R10)(AX*1), Z0, Z0 // u = z*inv + bias
	VSUBPS  (R11)(AX*1), Z0, Z1 // u - center
	VMULPS  (R12)(AX*1), Z1, Z2 // * scale
	VADDPS  (R13)(AX*1), Z2, Z2 // t = ... + beta
	MOVQ    flag+96(FP), R14
	GRADMASK(Z2, R14, Z3)
	VMOVUPS.Z (DI)(AX*1), K1, Z3 // g = masked dy
	TESTQ     $8, R14
	JNE       g_frozen
	MOVQ      k1+104(FP), R14
	VMULPS    (R14)(AX*1), Z3, Z3 // k1*g
	MOVQ      k2+112(FP), R14
	VMULPS    (R14)(AX*1), Z1, Z1 // k2*(u - center)
	VADDPS    Z1, Z3, Z3          // k1*g + k2*(u - center)
	MOVQ      k3+120(FP), R14
	VADDPS    (R14)(AX*1), Z3, Z3 // du = ... + k3
	VMULPS    (R9)(AX*1), Z3, Z4  // dz = du*inv
	VMOVUPS   Z4, (R8)(AX*1)
	JMP       g_sums

g_frozen:
	VMOVUPS Z3, (R8)(AX*1) // dz = g

g_sums:
	VCVTPS2PD     Y3, Z4             // du[0:8] as float64
	VEXTRACTF64X4 $1, Z3, Y5
	VCVTPS2PD     Y5, Z5             // du[8:16]
	VCVTPS2PD     Y6, Z7             // z[0:8]
	VEXTRACTF64X4 $1, Z6, Y8
	VCVTPS2PD     Y8, Z8             // z[8:16]
	VMULPD        Z4, Z7, Z7         // du*z
	VMULPD        Z5, Z8, Z8
	MOVQ          s1+128(FP), R14
	VADDPD        (R14)(AX*2), Z4, Z4 // s1 += du
	VADDPD        64(R14)(AX*2), Z5, Z5
	VMOVUPD       Z4, (R14)(AX*2)
	VMOVUPD       Z5, 64(R14)(AX*2)
	MOVQ          s2+136(FP), R14
	VADDPD        (R14)(AX*2), Z7, Z7 // s2 += du*z
	VADDPD        64(R14)(AX*2), Z8, Z8
	VMOVUPD       Z7, (R14)(AX*2)
	VMOVUPD       Z8, 64(R14)(AX*2)
	ADDQ          $64, AX
	CMPQ          AX, BX
	JLT           g_block

	ADDQ DX, SI
	ADDQ DX, DI
	ADDQ DX, R8
	DECQ CX
	JNE  g_row

g_done:
	VZEROUPPER
	RET
