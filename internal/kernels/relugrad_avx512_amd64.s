//go:build amd64 && !noasm

#include "textflag.h"

// ReLUGrad's AVX-512F body (relugrad.go): per 16 values, t = bits(y) - 1
// (wrapping), k1 = t > -1, dx = dy where k1 else +0; 32 values at a time
// while there are, then 16.
// func f32ReLUGradAVX512(y, dy, dx *float32, n int)
TEXT ·f32ReLUGradAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	VPTERNLOGD $0xff, Z31, Z31, Z31 // -1 in every lane
	XORQ       AX, AX
	LEAQ       -32(CX), BX

relu_two:
	CMPQ AX, BX
	JGT  relu_one
	VPADDD    (SI)(AX*4), Z31, Z0 // bits - 1
	VPADDD    64(SI)(AX*4), Z31, Z1
	VPCMPGTD  Z31, Z0, K1         // bits-1 > -1
	VPCMPGTD  Z31, Z1, K2
	VPXORD    Z4, Z4, Z4
	VPXORD    Z5, Z5, Z5
	VMOVDQU32 (DX)(AX*4), K1, Z4  // dy where kept, +0 elsewhere
	VMOVDQU32 64(DX)(AX*4), K2, Z5
	VMOVDQU32 Z4, (DI)(AX*4)
	VMOVDQU32 Z5, 64(DI)(AX*4)
	ADDQ      $32, AX
	JMP       relu_two

relu_one:
	CMPQ AX, CX
	JGE  relu_done
	VPADDD    (SI)(AX*4), Z31, Z0
	VPCMPGTD  Z31, Z0, K1
	VPXORD    Z4, Z4, Z4
	VMOVDQU32 (DX)(AX*4), K1, Z4
	VMOVDQU32 Z4, (DI)(AX*4)
	ADDQ      $16, AX
	JMP       relu_one

relu_done:
	VZEROUPPER
	RET
