//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512F depthwise convolution (depthwise.go, depthwise_amd64.go):
// a run of output pixels, 16 channels per step (the last step masked),
// 8, 4 or 1 pixels at a time. Each tap multiplies the pixels' input
// vectors by the tap's weight vector (VMULPS, rounded) and adds the
// products to the accumulators (VADDPS), which start from the bias: the
// roundings of the Go loop, in its order, with no fused multiply-add.

// Registers of the pixel loops.
#define TX   AX  // input of the current tap, pixel 0 of the block
#define TW   BX  // weights of the current tap
#define COL  CX  // taps left in the row
#define ROW  DX  // rows of taps left
#define XP   SI  // input of the block's first tap
#define OP   DI  // output of the block's first pixel
#define TXR  R8  // input of the current row's first tap, pixel 0
#define TWR  R9  // weights of the current row's first tap
#define XS   R10 // bytes between two pixels' inputs (SW*C*4)
#define XS3  R11 // 3 * XS
#define C4   R12 // bytes between two taps of a row, and two output pixels (C*4)
#define TX4  R13 // input of the current tap, pixel 4 of the block
#define PIX  R14 // pixels left

#define WV   Z8  // weights of the current tap
#define BIAS Z17 // bias (or zeros) of the 16 channels

// MUL8 / ADD8: the products of the current tap for 8 pixels, then the sums.
#define MUL8 \
	VMOVUPS.Z (TW), K1, WV \
	VMULPS.Z  (TX), WV, K1, Z9 \
	VMULPS.Z  (TX)(XS*1), WV, K1, Z10 \
	VMULPS.Z  (TX)(XS*2), WV, K1, Z11 \
	VMULPS.Z  (TX)(XS3*1), WV, K1, Z12 \
	VMULPS.Z  (TX4), WV, K1, Z13 \
	VMULPS.Z  (TX4)(XS*1), WV, K1, Z14 \
	VMULPS.Z  (TX4)(XS*2), WV, K1, Z15 \
	VMULPS.Z  (TX4)(XS3*1), WV, K1, Z16 \
	VADDPS    Z9, Z0, Z0 \
	VADDPS    Z10, Z1, Z1 \
	VADDPS    Z11, Z2, Z2 \
	VADDPS    Z12, Z3, Z3 \
	VADDPS    Z13, Z4, Z4 \
	VADDPS    Z14, Z5, Z5 \
	VADDPS    Z15, Z6, Z6 \
	VADDPS    Z16, Z7, Z7

#define MUL4 \
	VMOVUPS.Z (TW), K1, WV \
	VMULPS.Z  (TX), WV, K1, Z9 \
	VMULPS.Z  (TX)(XS*1), WV, K1, Z10 \
	VMULPS.Z  (TX)(XS*2), WV, K1, Z11 \
	VMULPS.Z  (TX)(XS3*1), WV, K1, Z12 \
	VADDPS    Z9, Z0, Z0 \
	VADDPS    Z10, Z1, Z1 \
	VADDPS    Z11, Z2, Z2 \
	VADDPS    Z12, Z3, Z3

#define MUL1 \
	VMOVUPS.Z (TW), K1, WV \
	VMULPS.Z  (TX), WV, K1, Z9 \
	VADDPS    Z9, Z0, Z0

// func f32DepthwiseAVX512(out, x, w, b *float32, n, c, rows, cols, xs, xr, wr int)
//
// The argument slots out, x, w, b and c are updated in place as the
// channel blocks advance, and xr and wr turned into bytes.
TEXT ·f32DepthwiseAVX512(SB), NOSPLIT, $0-88
	MOVQ xs+64(FP), XS
	SHLQ $2, XS
	LEAQ (XS)(XS*2), XS3
	MOVQ c+40(FP), C4
	SHLQ $2, C4
	SHLQ $2, xr+72(FP) // xr, wr in bytes from here on
	SHLQ $2, wr+80(FP)

cblock:
	// K1 = the channels of this block: min(16, channels left).
	MOVQ  c+40(FP), CX
	MOVL  $0xffff, AX
	CMPQ  CX, $16
	JGE   mask_set
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX

mask_set:
	KMOVW AX, K1
	MOVQ  b+24(FP), AX
	TESTQ AX, AX
	JZ    no_bias
	VMOVUPS.Z (AX), K1, BIAS
	JMP   pixels

no_bias:
	VPXORD BIAS, BIAS, BIAS

pixels:
	MOVQ out+0(FP), OP
	MOVQ x+8(FP), XP
	MOVQ n+32(FP), PIX

	// Blocks of 8 pixels.
pix8:
	CMPQ PIX, $8
	JLT  pix4
	VMOVAPS BIAS, Z0
	VMOVAPS BIAS, Z1
	VMOVAPS BIAS, Z2
	VMOVAPS BIAS, Z3
	VMOVAPS BIAS, Z4
	VMOVAPS BIAS, Z5
	VMOVAPS BIAS, Z6
	VMOVAPS BIAS, Z7
	MOVQ XP, TXR
	MOVQ w+16(FP), TWR
	MOVQ rows+48(FP), ROW
	TESTQ ROW, ROW
	JZ   store8

row8:
	MOVQ TXR, TX
	LEAQ (TX)(XS*4), TX4
	MOVQ TWR, TW
	MOVQ cols+56(FP), COL

col8:
	MUL8
	ADDQ C4, TX
	ADDQ C4, TX4
	ADDQ C4, TW
	DECQ COL
	JNZ  col8
	ADDQ xr+72(FP), TXR
	ADDQ wr+80(FP), TWR
	DECQ ROW
	JNZ  row8

store8:
	LEAQ    (C4)(C4*2), DX
	VMOVUPS Z0, K1, (OP)
	VMOVUPS Z1, K1, (OP)(C4*1)
	VMOVUPS Z2, K1, (OP)(C4*2)
	VMOVUPS Z3, K1, (OP)(DX*1)
	LEAQ    (OP)(C4*4), AX
	VMOVUPS Z4, K1, (AX)
	VMOVUPS Z5, K1, (AX)(C4*1)
	VMOVUPS Z6, K1, (AX)(C4*2)
	VMOVUPS Z7, K1, (AX)(DX*1)
	LEAQ    (AX)(C4*4), OP
	LEAQ    (XP)(XS*8), XP
	SUBQ    $8, PIX
	JMP     pix8

	// A block of 4 pixels.
pix4:
	CMPQ PIX, $4
	JLT  pix1
	VMOVAPS BIAS, Z0
	VMOVAPS BIAS, Z1
	VMOVAPS BIAS, Z2
	VMOVAPS BIAS, Z3
	MOVQ XP, TXR
	MOVQ w+16(FP), TWR
	MOVQ rows+48(FP), ROW
	TESTQ ROW, ROW
	JZ   store4

row4:
	MOVQ TXR, TX
	MOVQ TWR, TW
	MOVQ cols+56(FP), COL

col4:
	MUL4
	ADDQ C4, TX
	ADDQ C4, TW
	DECQ COL
	JNZ  col4
	ADDQ xr+72(FP), TXR
	ADDQ wr+80(FP), TWR
	DECQ ROW
	JNZ  row4

store4:
	LEAQ    (C4)(C4*2), DX
	VMOVUPS Z0, K1, (OP)
	VMOVUPS Z1, K1, (OP)(C4*1)
	VMOVUPS Z2, K1, (OP)(C4*2)
	VMOVUPS Z3, K1, (OP)(DX*1)
	LEAQ    (OP)(C4*4), OP
	LEAQ    (XP)(XS*4), XP
	SUBQ    $4, PIX

	// Single pixels.
pix1:
	TESTQ PIX, PIX
	JZ    cnext
	VMOVAPS BIAS, Z0
	MOVQ XP, TXR
	MOVQ w+16(FP), TWR
	MOVQ rows+48(FP), ROW
	TESTQ ROW, ROW
	JZ   store1

row1:
	MOVQ TXR, TX
	MOVQ TWR, TW
	MOVQ cols+56(FP), COL

col1:
	MUL1
	ADDQ C4, TX
	ADDQ C4, TW
	DECQ COL
	JNZ  col1
	ADDQ xr+72(FP), TXR
	ADDQ wr+80(FP), TWR
	DECQ ROW
	JNZ  row1

store1:
	VMOVUPS Z0, K1, (OP)
	ADDQ    C4, OP
	ADDQ    XS, XP
	DECQ    PIX
	JMP     pix1

	// The next 16 channels.
cnext:
	ADDQ  $64, out+0(FP)
	ADDQ  $64, x+8(FP)
	ADDQ  $64, w+16(FP)
	MOVQ  b+24(FP), AX
	TESTQ AX, AX
	JZ    cdec
	ADDQ  $64, b+24(FP)

cdec:
	SUBQ $16, c+40(FP)
	JG   cblock
	VZEROUPPER
	RET
