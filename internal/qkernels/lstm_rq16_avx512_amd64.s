//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 form of Requant16.Rows (lstm_rq16.go): 16 int32 products
// per iteration, multiplied in 64-bit lanes (the even and odd columns
// apart, VPMULDQ), rounded half to even with per-column shifts (VPSRAVQ),
// clamped to int16 in 64 bits, interleaved back into column order, the
// recurrent term added in 32 bits and narrowed with int16 saturation.

// func rq16AVX512(a *int32, off *int32, add *int16, out *int16, grp *rq16Group, n int)
TEXT ·rq16AVX512(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ off+8(FP), BX
	MOVQ add+16(FP), R8
	MOVQ out+24(FP), DI
	MOVQ grp+32(FP), DX
	MOVQ n+40(FP), CX
	MOVQ $1, AX
	VPBROADCASTQ AX, Z31
	MOVQ $-32768, AX
	VPBROADCASTQ AX, Z29
	MOVQ $32767, AX
	VPBROADCASTQ AX, Z30
	MOVL $0xAAAA, AX
	KMOVW AX, K2 // the odd columns

rqloop:
	TESTQ CX, CX
	JLE rqdone
	MOVQ $-1, AX
	CMPQ CX, $16
	JGE rqfull
	BZHIQ CX, AX, AX

rqfull:
	KMOVW AX, K1 // the columns of this group
	VMOVDQU32.Z (SI), K1, Z0
	VPADDD.Z (BX), Z0, K1, Z0 // a + off, wrapping in int32
	VPSRLQ $32, Z0, Z1
	VPMULDQ (DX), Z0, Z0 // p, even columns
	VPMULDQ 64(DX), Z1, Z1 // odd columns
	VPSRAVQ 128(DX), Z0, Z2
	VPSRAVQ 192(DX), Z1, Z3
	VPANDQ Z31, Z2, Z2 // the parity of p >> s
	VPANDQ Z31, Z3, Z3
	VPADDQ 256(DX), Z0, Z0
	VPADDQ 320(DX), Z1, Z1
	VPADDQ Z2, Z0, Z0
	VPADDQ Z3, Z1, Z1
	VPSRAVQ 128(DX), Z0, Z0 // (p + half - 1 + parity) >> s: half to even
	VPSRAVQ 192(DX), Z1, Z1
	VPMAXSQ Z29, Z0, Z0
	VPMINSQ Z30, Z0, Z0
	VPMAXSQ Z29, Z1, Z1
	VPMINSQ Z30, Z1, Z1
	VPSLLQ $32, Z1, Z1
	VMOVDQA32 Z1, K2, Z0 // the 16 int16 values in dwords, column order
	TESTQ R8, R8
	JEQ rqstore
	VPMOVSXWD.Z (R8), K1, Z4
	VPADDD Z4, Z0, Z0
	ADDQ $32, R8

rqstore:
	VPMOVSDW Z0, K1, (DI) // saturated to int16
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $32, DI
	ADDQ $384, DX
	SUBQ $16, CX
	JMP rqloop

rqdone:
	VZEROUPPER
	RET
