//go:build amd64 && !noasm

#include "textflag.h"

// MaxWindow's AVX-512F body (pool.go, pool_amd64.go): 16 channels per
// block, the running maximum and its index in registers over the taps.

DATA maxIota<>+0(SB)/8, $0x0000000100000000
DATA maxIota<>+8(SB)/8, $0x0000000300000002
DATA maxIota<>+16(SB)/8, $0x0000000500000004
DATA maxIota<>+24(SB)/8, $0x0000000700000006
DATA maxIota<>+32(SB)/8, $0x0000000900000008
DATA maxIota<>+40(SB)/8, $0x0000000b0000000a
DATA maxIota<>+48(SB)/8, $0x0000000d0000000c
DATA maxIota<>+56(SB)/8, $0x0000000f0000000e
GLOBL maxIota<>(SB), RODATA|NOPTR, $64

// func f32MaxWindowAVX512(img *float32, offs *int32, ntaps int, o *float32, a *int32, cv int)
TEXT ·f32MaxWindowAVX512(SB), NOSPLIT, $0-48
	MOVQ img+0(FP), SI
	MOVQ offs+8(FP), R8
	MOVQ ntaps+16(FP), R9
	MOVQ o+24(FP), DI
	MOVQ a+32(FP), R10
	MOVQ cv+40(FP), BX
	VMOVDQU32 maxIota<>(SB), Z31 // 0, 1, ..., 15
	XORQ CX, CX                  // channel c of the block

block:
	// Tap 0: o = img[offs[0]+c:], a = offs[0]+c+iota.
	MOVLQSX      (R8), AX
	ADDQ         CX, AX
	VMOVUPS      (SI)(AX*4), Z0
	VPBROADCASTD AX, Z1
	VPADDD       Z31, Z1, Z1
	MOVQ         $1, DX // tap t

taps:
	CMPQ         DX, R9
	JGE          store
	MOVLQSX      (R8)(DX*4), AX
	ADDQ         CX, AX
	VMOVUPS      (SI)(AX*4), Z2
	VCMPPS       $0x1e, Z0, Z2, K1 // K1 = v > o (GT_OQ: false for NaN)
	VMOVUPS      Z2, K1, Z0        // o = v where K1
	VPBROADCASTD AX, Z3
	VPADDD       Z31, Z3, K1, Z1   // a = off+c+iota where K1
	INCQ         DX
	JMP          taps

store:
	VMOVUPS   Z0, (DI)(CX*4)
	VMOVDQU32 Z1, (R10)(CX*4)
	ADDQ      $16, CX
	CMPQ      CX, BX
	JLT       block

	VZEROUPPER
	RET

// RouteMax's AVX-512F body (pool.go): per 16-channel block, the gradient
// and winning indices in registers, one masked store per tap.
// func f32RouteMaxAVX512(dIn, grad *float32, arg, offs *int32, ntaps, cv int)
TEXT ·f32RouteMaxAVX512(SB), NOSPLIT, $0-48
	MOVQ dIn+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ arg+16(FP), R10
	MOVQ offs+24(FP), R8
	MOVQ ntaps+32(FP), R9
	MOVQ cv+40(FP), BX
	VMOVDQU32 maxIota<>(SB), Z31 // 0, 1, ..., 15
	VPXORD    Z30, Z30, Z30      // +0
	XORQ      CX, CX             // channel c of the block

route_block:
	VMOVUPS   (SI)(CX*4), Z0  // g
	VMOVDQU32 (R10)(CX*4), Z1 // arg
	XORQ      DX, DX          // tap t

route_taps:
	MOVLQSX      (R8)(DX*4), AX
	ADDQ         CX, AX
	VPBROADCASTD AX, Z2
	VPADDD       Z31, Z2, Z2     // off+c+iota
	VPCMPEQD     Z2, Z1, K1      // K1 = arg == off+c+iota
	VMOVUPS.Z    Z0, K1, Z3      // g where K1, +0 elsewhere
	VADDPS       Z30, Z3, Z3     // 0 + v
	VMOVUPS      Z3, (DI)(AX*4)
	INCQ         DX
	CMPQ         DX, R9
	JLT          route_taps

	ADDQ $16, CX
	CMPQ CX, BX
	JLT  route_block

	VZEROUPPER
	RET
