//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512F element-wise passes of addact.go: 16 values per step, the
// sum a + b rounded as Go's +, then Go's max(v, 0) and min(v, 6) lowered
// as the compiler lowers them (see bn_avx512_amd64.s, which these macros
// repeat): the values and NaN bits of the Go loops.

#define SIGN Z30 // 16 x 0x80000000 (-0)
#define SIX  Z31 // 16 x 6.0

#define SETCONST(tmp) \
	MOVL         $0x80000000, tmp \
	VPBROADCASTD tmp, SIGN \
	MOVL         $0x40c00000, tmp \
	VPBROADCASTD tmp, SIX

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

// ACT(reg) applies act (in DX) to reg, clobbering Z1 and Z2.
#define ACT(reg, lbl) \
	CMPQ DX, $0 \
	JEQ  lbl \
	GOMAX0(reg, Z1, Z2) \
	CMPQ DX, $1 \
	JEQ  lbl \
	GOMIN6(reg, Z1, Z2) \
lbl:

// func f32AddActAVX512(a, b, y *float32, n, act int)
TEXT ·f32AddActAVX512(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), R8
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ act+32(FP), DX
	SETCONST(AX)
	SHLQ $2, CX // bytes
	XORQ AX, AX

addact_loop:
	VMOVUPS (SI)(AX*1), Z0
	VADDPS  (R8)(AX*1), Z0, Z0
	ACT(Z0, addact_store)
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     addact_loop
	VZEROUPPER
	RET

// func f32ActAVX512(x, y *float32, n, act int)
TEXT ·f32ActAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ act+24(FP), DX
	SETCONST(AX)
	SHLQ $2, CX
	XORQ AX, AX

act_loop:
	VMOVUPS (SI)(AX*1), Z0
	ACT(Z0, act_store)
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     act_loop
	VZEROUPPER
	RET

// func f32BiasActAVX512(y, bias *float32, rows, cols, ld, act int)
// Rows of cols (a positive multiple of 16) values, ld apart:
// y[r*ld+j] = act(y[r*ld+j] + bias[j]).
TEXT ·f32BiasActAVX512(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ bias+8(FP), R8
	MOVQ rows+16(FP), BX
	MOVQ cols+24(FP), CX
	MOVQ ld+32(FP), R9
	MOVQ act+40(FP), DX
	SETCONST(AX)
	SHLQ $2, CX // bytes per row
	SHLQ $2, R9 // bytes between rows

biasact_row:
	XORQ AX, AX

biasact_loop:
	VMOVUPS (DI)(AX*1), Z0
	VADDPS  (R8)(AX*1), Z0, Z0
	ACT(Z0, biasact_store)
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     biasact_loop
	ADDQ    R9, DI
	DECQ    BX
	JNZ     biasact_row
	VZEROUPPER
	RET
