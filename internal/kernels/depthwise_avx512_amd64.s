//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512F depthwise convolution (depthwise.go, depthwise_amd64.go):
// a run of output pixels, 8, 4 or 1 pixels at a time, and for each group
// of pixels every channel, 16 per step (the last step masked): the group's
// inputs, which are contiguous per pixel, stay in L1 across the channel
// steps. Each tap multiplies the pixels' input
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
#define CO   R14 // byte offset of the current 16 channels

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

// MASK(lbl) sets K1 to the channels of the step at CO: min(16, C - CO/4)
// (clobbers AX, CX).
#define MASK(lbl) \
	MOVQ  C4, CX \
	SUBQ  CO, CX \
	SHRQ  $2, CX \
	MOVL  $0xffff, AX \
	CMPQ  CX, $16 \
	JGE   lbl \
	MOVL  $1, AX \
	SHLL  CX, AX \
	DECL  AX \
lbl: \
	KMOVW AX, K1

// LOADBIAS(nob, done) sets BIAS to the step's bias, or zeros (clobbers AX).
#define LOADBIAS(nob, done) \
	MOVQ  b+24(FP), AX \
	TESTQ AX, AX \
	JZ    nob \
	VMOVUPS.Z (AX)(CO*1), K1, BIAS \
	JMP   done \
nob: \
	VPXORD BIAS, BIAS, BIAS \
done:

// TAPS(mul, rlbl, clbl, endlbl) runs the taps of the step for the group at
// XP: mul per tap, over rows x cols taps.
#define TAPS(mul, rlbl, clbl, endlbl) \
	LEAQ  (XP)(CO*1), TXR \
	MOVQ  w+16(FP), TWR \
	ADDQ  CO, TWR \
	MOVQ  rows+48(FP), ROW \
	TESTQ ROW, ROW \
	JZ    endlbl \
rlbl: \
	MOVQ  TXR, TX \
	LEAQ  (TX)(XS*4), TX4 \
	MOVQ  TWR, TW \
	MOVQ  cols+56(FP), COL \
clbl: \
	mul \
	ADDQ  C4, TX \
	ADDQ  C4, TX4 \
	ADDQ  C4, TW \
	DECQ  COL \
	JNZ   clbl \
	ADDQ  xr+72(FP), TXR \
	ADDQ  wr+80(FP), TWR \
	DECQ  ROW \
	JNZ   rlbl \
endlbl:

// ROW3S1 is one row of 3 taps for 8 pixels at stride 1 (XS == C4, so XS3
// is 3*C4): the 10 input vectors the taps read, each loaded once and
// multiplied by the weights of every tap that reads it, the products added
// to each pixel in tap order (input q feeds pixel q-kw with tap kw, so
// pixel p receives taps 0, 1, 2 in that order, as in MUL8). TX4 points at
// input 5.
#define MA(w, acc) \
	VMULPS Z11, w, Z12 \
	VADDPS Z12, acc, acc

#define ROW3S1 \
	VMOVUPS.Z (TW), K1, Z8 \
	VMOVUPS.Z (TW)(C4*1), K1, Z9 \
	VMOVUPS.Z (TW)(C4*2), K1, Z10 \
	LEAQ      (TX)(C4*4), TX4 \
	ADDQ      C4, TX4 \
	VMOVUPS.Z (TX), K1, Z11 \
	MA(Z8, Z0) \
	VMOVUPS.Z (TX)(C4*1), K1, Z11 \
	MA(Z9, Z0) \
	MA(Z8, Z1) \
	VMOVUPS.Z (TX)(C4*2), K1, Z11 \
	MA(Z10, Z0) \
	MA(Z9, Z1) \
	MA(Z8, Z2) \
	VMOVUPS.Z (TX)(XS3*1), K1, Z11 \
	MA(Z10, Z1) \
	MA(Z9, Z2) \
	MA(Z8, Z3) \
	VMOVUPS.Z (TX)(C4*4), K1, Z11 \
	MA(Z10, Z2) \
	MA(Z9, Z3) \
	MA(Z8, Z4) \
	VMOVUPS.Z (TX4), K1, Z11 \
	MA(Z10, Z3) \
	MA(Z9, Z4) \
	MA(Z8, Z5) \
	VMOVUPS.Z (TX4)(C4*1), K1, Z11 \
	MA(Z10, Z4) \
	MA(Z9, Z5) \
	MA(Z8, Z6) \
	VMOVUPS.Z (TX4)(C4*2), K1, Z11 \
	MA(Z10, Z5) \
	MA(Z9, Z6) \
	MA(Z8, Z7) \
	VMOVUPS.Z (TX4)(XS3*1), K1, Z11 \
	MA(Z10, Z6) \
	MA(Z9, Z7) \
	VMOVUPS.Z (TX4)(C4*4), K1, Z11 \
	MA(Z10, Z7)

// TAPS3S1(rlbl, endlbl) is TAPS(MUL8, ...) for 3 taps per row at stride 1.
#define TAPS3S1(rlbl, endlbl) \
	LEAQ  (XP)(CO*1), TXR \
	MOVQ  w+16(FP), TWR \
	ADDQ  CO, TWR \
	MOVQ  rows+48(FP), ROW \
	TESTQ ROW, ROW \
	JZ    endlbl \
rlbl: \
	MOVQ  TXR, TX \
	MOVQ  TWR, TW \
	ROW3S1 \
	ADDQ  xr+72(FP), TXR \
	ADDQ  wr+80(FP), TWR \
	DECQ  ROW \
	JNZ   rlbl \
endlbl:

// STORE8(mlbl, dlbl) / STORE4 / STORE1 write the group's accumulators to
// the output at OP+CO, pixels C4 bytes apart: plain stores for a whole
// step of 16 channels, masked by K1 only for the last partial step
// (masked 512-bit stores are several times slower on some CPUs). They
// clobber AX, CX, DX.
#define STORE8(mlbl, dlbl) \
	LEAQ    (OP)(CO*1), AX \
	LEAQ    (C4)(C4*2), DX \
	MOVQ    C4, CX \
	SUBQ    CO, CX \
	CMPQ    CX, $64 \
	JLT     mlbl \
	VMOVUPS Z0, (AX) \
	VMOVUPS Z1, (AX)(C4*1) \
	VMOVUPS Z2, (AX)(C4*2) \
	VMOVUPS Z3, (AX)(DX*1) \
	LEAQ    (AX)(C4*4), AX \
	VMOVUPS Z4, (AX) \
	VMOVUPS Z5, (AX)(C4*1) \
	VMOVUPS Z6, (AX)(C4*2) \
	VMOVUPS Z7, (AX)(DX*1) \
	JMP     dlbl \
mlbl: \
	VMOVUPS Z0, K1, (AX) \
	VMOVUPS Z1, K1, (AX)(C4*1) \
	VMOVUPS Z2, K1, (AX)(C4*2) \
	VMOVUPS Z3, K1, (AX)(DX*1) \
	LEAQ    (AX)(C4*4), AX \
	VMOVUPS Z4, K1, (AX) \
	VMOVUPS Z5, K1, (AX)(C4*1) \
	VMOVUPS Z6, K1, (AX)(C4*2) \
	VMOVUPS Z7, K1, (AX)(DX*1) \
dlbl:

#define STORE4(mlbl, dlbl) \
	LEAQ    (OP)(CO*1), AX \
	LEAQ    (C4)(C4*2), DX \
	MOVQ    C4, CX \
	SUBQ    CO, CX \
	CMPQ    CX, $64 \
	JLT     mlbl \
	VMOVUPS Z0, (AX) \
	VMOVUPS Z1, (AX)(C4*1) \
	VMOVUPS Z2, (AX)(C4*2) \
	VMOVUPS Z3, (AX)(DX*1) \
	JMP     dlbl \
mlbl: \
	VMOVUPS Z0, K1, (AX) \
	VMOVUPS Z1, K1, (AX)(C4*1) \
	VMOVUPS Z2, K1, (AX)(C4*2) \
	VMOVUPS Z3, K1, (AX)(DX*1) \
dlbl:

#define STORE1(mlbl, dlbl) \
	LEAQ    (OP)(CO*1), AX \
	MOVQ    C4, CX \
	SUBQ    CO, CX \
	CMPQ    CX, $64 \
	JLT     mlbl \
	VMOVUPS Z0, (AX) \
	JMP     dlbl \
mlbl: \
	VMOVUPS Z0, K1, (AX) \
dlbl:

// func f32DepthwiseAVX512(out, x, w, b *float32, n, c, rows, cols, xs, xr, wr int)
//
// The argument slot n counts the pixels left, and xr and wr are turned
// into bytes.
TEXT ·f32DepthwiseAVX512(SB), NOSPLIT, $0-88
	MOVQ xs+64(FP), XS
	SHLQ $2, XS
	LEAQ (XS)(XS*2), XS3
	MOVQ c+40(FP), C4
	SHLQ $2, C4
	SHLQ $2, xr+72(FP) // xr, wr in bytes from here on
	SHLQ $2, wr+80(FP)
	MOVQ out+0(FP), OP
	MOVQ x+8(FP), XP

	// Groups of 8 pixels.
pix8:
	CMPQ n+32(FP), $8
	JLT  pix4
	XORQ CO, CO

c8:
	MASK(m8)
	LOADBIAS(nob8, bias8)
	VMOVAPS BIAS, Z0
	VMOVAPS BIAS, Z1
	VMOVAPS BIAS, Z2
	VMOVAPS BIAS, Z3
	VMOVAPS BIAS, Z4
	VMOVAPS BIAS, Z5
	VMOVAPS BIAS, Z6
	VMOVAPS BIAS, Z7
	CMPQ    cols+56(FP), $3
	JNE     gen8
	CMPQ    XS, C4
	JNE     gen8
	TAPS3S1(q8, u8)
	JMP     store8

gen8:
	TAPS(MUL8, r8, k8, t8)

store8:
	STORE8(sm8, sd8)
	ADDQ    $64, CO
	CMPQ    CO, C4
	JLT     c8
	LEAQ    (OP)(C4*8), OP
	LEAQ    (XP)(XS*8), XP
	SUBQ    $8, n+32(FP)
	JMP     pix8

	// A group of 4 pixels.
pix4:
	CMPQ n+32(FP), $4
	JLT  pix1
	XORQ CO, CO

c4:
	MASK(m4)
	LOADBIAS(nob4, bias4)
	VMOVAPS BIAS, Z0
	VMOVAPS BIAS, Z1
	VMOVAPS BIAS, Z2
	VMOVAPS BIAS, Z3
	TAPS(MUL4, r4, k4, t4)
	STORE4(sm4, sd4)
	ADDQ    $64, CO
	CMPQ    CO, C4
	JLT     c4
	LEAQ    (OP)(C4*4), OP
	LEAQ    (XP)(XS*4), XP
	SUBQ    $4, n+32(FP)

	// Single pixels.
pix1:
	CMPQ n+32(FP), $0
	JLE  done
	XORQ CO, CO

c1:
	MASK(m1)
	LOADBIAS(nob1, bias1)
	VMOVAPS BIAS, Z0
	TAPS(MUL1, r1, k1, t1)
	STORE1(sm1, sd1)
	ADDQ    $64, CO
	CMPQ    CO, C4
	JLT     c1
	ADDQ    C4, OP
	ADDQ    XS, XP
	DECQ    n+32(FP)
	JMP     pix1

done:
	VZEROUPPER
	RET
