//go:build amd64 && !noasm

#include "textflag.h"
#include "qkernels_amd64.h"

// The h additions of the output stage (Z15 and Z16 hold h of the even and
// odd columns), and their constants' loads: H and HL for a group with a
// column of Shift 32, NOH and NOHL (nothing) for the usual case.
#define H(a, t) VPADDQ Z15, a, a; VPADDQ Z16, t, t
#define NOH(a, t)
#define HL(p) VMOVDQU32 712(p), Z15; VMOVDQU32 776(p), Z16
#define NOHL(p)

// DWPAIRS is the body of dwPairs3x3RqVNNI and dwPairs3x3RqVNNIH0 (see
// below), H and HL the h additions and loads or nothing, the rest its labels.
#define DWPAIRS(H, HL, DPBLOCK, DPPARTIAL, DPMASK, DPFOUR, DPONE, DPONELOOP, DPNEXT) \
	MOVQ c+40(FP), R8; \
	MOVQ step+56(FP), R12; \
	SHLQ $2, R12; \
	LEAQ (R12)(R12*2), R15; \
	MOVQ p1+88(FP), R13; \
	LEAQ (R8)(R8*2), R14; \
	VMOVDQU32 ·rqhigh(SB), Z24; \
	MOVQ lo+72(FP), AX; \
	VPBROADCASTD AX, Z25; \
	MOVQ hi+80(FP), AX; \
	VPBROADCASTD AX, Z26; \
	XORQ BX, BX; \
DPBLOCK: \
	MOVQ R8, AX; \
	SUBQ BX, AX; \
	CMPQ AX, $16; \
	JLT DPPARTIAL; \
	MOVQ $0xffff, AX; \
	JMP DPMASK; \
DPPARTIAL: \
	MOVQ $-1, DX; \
	BZHIQ AX, DX, AX; \
DPMASK: \
	KMOVW AX, K1; \
	MOVQ w+32(FP), DX; \
	LEAQ (BX)(BX*2), AX; \
	LEAQ (DX)(AX*8), DX; \
	VMOVDQU32 0(DX), Z6; \
	VMOVDQU32 64(DX), Z7; \
	VMOVDQU32 128(DX), Z8; \
	VMOVDQU32 192(DX), Z9; \
	VMOVDQU32 256(DX), Z10; \
	VMOVDQU32 320(DX), Z11; \
	MOVQ BX, AX; \
	SHRQ $4, AX; \
	IMULQ $840, AX; \
	ADDQ p+64(FP), AX; \
	VMOVDQU32 0(AX), Z12; \
	VMOVDQU32 64(AX), Z13; \
	VMOVDQU32 128(AX), Z14; \
	HL(AX); \
	VMOVDQU32 648(AX), Z17; \
	VMOVDQU32 584(AX), Z18; \
	MOVQ r0+8(FP), R9; \
	LEAQ (R9)(BX*4), R9; \
	LEAQ (R9)(R13*1), SI; \
	MOVQ r1+16(FP), R10; \
	LEAQ (R10)(BX*4), R10; \
	LEAQ (R10)(R13*1), AX; \
	MOVQ r2+24(FP), R11; \
	LEAQ (R11)(BX*4), R11; \
	LEAQ (R11)(R13*1), CX; \
	MOVQ out+0(FP), DI; \
	ADDQ BX, DI; \
	MOVQ n+48(FP), DX; \
	CMPQ DX, $4; \
	JLT DPONE; \
DPFOUR: \
	VMOVDQA32 Z12, Z0; \
	VMOVDQA32 Z12, Z1; \
	VMOVDQA32 Z12, Z2; \
	VMOVDQA32 Z12, Z3; \
	VPDPWSSD (R9), Z6, Z0; \
	VPDPWSSD (SI), Z7, Z0; \
	VPDPWSSD (R9)(R12*1), Z6, Z1; \
	VPDPWSSD (SI)(R12*1), Z7, Z1; \
	VPDPWSSD (R9)(R12*2), Z6, Z2; \
	VPDPWSSD (SI)(R12*2), Z7, Z2; \
	VPDPWSSD (R9)(R15*1), Z6, Z3; \
	VPDPWSSD (SI)(R15*1), Z7, Z3; \
	VPDPWSSD (R10), Z8, Z0; \
	VPDPWSSD (AX), Z9, Z0; \
	VPDPWSSD (R10)(R12*1), Z8, Z1; \
	VPDPWSSD (AX)(R12*1), Z9, Z1; \
	VPDPWSSD (R10)(R12*2), Z8, Z2; \
	VPDPWSSD (AX)(R12*2), Z9, Z2; \
	VPDPWSSD (R10)(R15*1), Z8, Z3; \
	VPDPWSSD (AX)(R15*1), Z9, Z3; \
	VPDPWSSD (R11), Z10, Z0; \
	VPDPWSSD (CX), Z11, Z0; \
	VPDPWSSD (R11)(R12*1), Z10, Z1; \
	VPDPWSSD (CX)(R12*1), Z11, Z1; \
	VPDPWSSD (R11)(R12*2), Z10, Z2; \
	VPDPWSSD (CX)(R12*2), Z11, Z2; \
	VPDPWSSD (R11)(R15*1), Z10, Z3; \
	VPDPWSSD (CX)(R15*1), Z11, Z3; \
	VPSRLQ $32, Z0, Z27; \
	VPSRLQ $32, Z1, Z28; \
	VPSRLQ $32, Z2, Z29; \
	VPSRLQ $32, Z3, Z30; \
	VPMULDQ Z13, Z0, Z0; \
	VPMULDQ Z13, Z1, Z1; \
	VPMULDQ Z13, Z2, Z2; \
	VPMULDQ Z13, Z3, Z3; \
	VPMULDQ Z14, Z27, Z27; \
	VPMULDQ Z14, Z28, Z28; \
	VPMULDQ Z14, Z29, Z29; \
	VPMULDQ Z14, Z30, Z30; \
	H(Z0, Z27); \
	H(Z1, Z28); \
	H(Z2, Z29); \
	H(Z3, Z30); \
	VPERMT2D Z27, Z24, Z0; \
	VPERMT2D Z28, Z24, Z1; \
	VPERMT2D Z29, Z24, Z2; \
	VPERMT2D Z30, Z24, Z3; \
	VPADDD Z17, Z0, Z0; \
	VPADDD Z17, Z1, Z1; \
	VPADDD Z17, Z2, Z2; \
	VPADDD Z17, Z3, Z3; \
	VPSRAVD Z18, Z0, Z0; \
	VPSRAVD Z18, Z1, Z1; \
	VPSRAVD Z18, Z2, Z2; \
	VPSRAVD Z18, Z3, Z3; \
	VPMAXSD Z25, Z0, Z0; \
	VPMAXSD Z25, Z1, Z1; \
	VPMAXSD Z25, Z2, Z2; \
	VPMAXSD Z25, Z3, Z3; \
	VPMINSD Z26, Z0, Z0; \
	VPMINSD Z26, Z1, Z1; \
	VPMINSD Z26, Z2, Z2; \
	VPMINSD Z26, Z3, Z3; \
	VPMOVDB Z0, X27; \
	VPMOVDB Z1, X28; \
	VPMOVDB Z2, X29; \
	VPMOVDB Z3, X30; \
	VMOVDQU8 X27, K1, (DI); \
	VMOVDQU8 X28, K1, (DI)(R8*1); \
	VMOVDQU8 X29, K1, (DI)(R8*2); \
	VMOVDQU8 X30, K1, (DI)(R14*1); \
	LEAQ (R9)(R12*4), R9; \
	LEAQ (R10)(R12*4), R10; \
	LEAQ (R11)(R12*4), R11; \
	LEAQ (SI)(R12*4), SI; \
	LEAQ (AX)(R12*4), AX; \
	LEAQ (CX)(R12*4), CX; \
	LEAQ (DI)(R8*4), DI; \
	SUBQ $4, DX; \
	CMPQ DX, $4; \
	JGE DPFOUR; \
DPONE: \
	TESTQ DX, DX; \
	JZ DPNEXT; \
DPONELOOP: \
	VMOVDQA32 Z12, Z0; \
	VPDPWSSD (R9), Z6, Z0; \
	VPDPWSSD (SI), Z7, Z0; \
	VPDPWSSD (R10), Z8, Z0; \
	VPDPWSSD (AX), Z9, Z0; \
	VPDPWSSD (R11), Z10, Z0; \
	VPDPWSSD (CX), Z11, Z0; \
	VPSRLQ $32, Z0, Z27; \
	VPMULDQ Z13, Z0, Z0; \
	VPMULDQ Z14, Z27, Z27; \
	H(Z0, Z27); \
	VPERMT2D Z27, Z24, Z0; \
	VPADDD Z17, Z0, Z0; \
	VPSRAVD Z18, Z0, Z0; \
	VPMAXSD Z25, Z0, Z0; \
	VPMINSD Z26, Z0, Z0; \
	VPMOVDB Z0, X27; \
	VMOVDQU8 X27, K1, (DI); \
	ADDQ R12, R9; \
	ADDQ R12, R10; \
	ADDQ R12, R11; \
	ADDQ R12, SI; \
	ADDQ R12, AX; \
	ADDQ R12, CX; \
	ADDQ R8, DI; \
	DECQ DX; \
	JNZ DPONELOOP; \
DPNEXT: \
	ADDQ $16, BX; \
	CMPQ BX, R8; \
	JLT DPBLOCK


// The pair-row 3x3 depthwise convolution (dwpairs.go): pairRowAVX512
// builds a pair row, dwPairs3x3RqVNNI computes output pixels from three
// of them, six VPDPWSSD from memory per 16 channels, then the rqFast
// output stage in registers. The output loop was generated (four pixels
// interleaved, then one at a time); on Zen 5 it runs at about 7 cycles
// per 16 outputs, bound by the multiply units that VPDPWSSD and the
// stage's VPMULDQ share (BenchmarkDWPairs).

// func pairRowAVX512(dst *int32, lo, hi *int8, n int, zp int32)
// dst[i] = uint16(lo[i]-zp) | (hi[i]-zp) << 16 for i < n; the last
// n%16 dwords under a mask (no byte read or written past them).
TEXT ·pairRowAVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ lo+8(FP), SI
	MOVQ hi+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL zp+32(FP), AX
	VPBROADCASTW AX, Z4
	MOVL $0xaaaaaaaa, AX
	KMOVD AX, K3 // the odd words: the high word of each dword
	CMPQ CX, $16
	JLT prtail

prloop:
	VPMOVSXBD (SI), Z0
	VPMOVSXBD (DX), Z1
	VPSLLD $16, Z1, Z1
	VPBLENDMW Z1, Z0, K3, Z0
	VPSUBW Z4, Z0, Z0 // minus the zero point, word by word
	VMOVDQU32 Z0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $64, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE prloop

prtail:
	TESTQ CX, CX
	JZ prdone
	MOVQ $-1, AX
	BZHIQ CX, AX, AX
	KMOVW AX, K1
	VPMOVSXBD.Z (SI), K1, Z0
	VPMOVSXBD.Z (DX), K1, Z1
	VPSLLD $16, Z1, Z1
	VPBLENDMW Z1, Z0, K3, Z0
	VPSUBW Z4, Z0, Z0
	VMOVDQU32 Z0, K1, (DI)

prdone:
	VZEROUPPER
	RET

// func pairRowS2AVX512(dst *int32, x *int8, n, c int, zp int32)
// n positions of a stride-2 pair row: position j from pixels 2j and 2j+1
// of x (c channels each), dst[j*c+ch] = uint16(x[2jc+ch]-zp) |
// (x[2jc+c+ch]-zp) << 16, the last 16-channel block of each position
// under a mask.
TEXT ·pairRowS2AVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	MOVL zp+32(FP), AX
	VPBROADCASTW AX, Z4
	MOVL $0xaaaaaaaa, AX
	KMOVD AX, K3
	TESTQ CX, CX
	JZ s2done

s2pos:
	XORQ BX, BX // channel

s2block:
	MOVQ DX, AX
	SUBQ BX, AX
	CMPQ AX, $16
	JGE s2full
	MOVQ $-1, R8
	BZHIQ AX, R8, AX
	JMP s2mask

s2full:
	MOVQ $0xffff, AX

s2mask:
	KMOVW AX, K1
	LEAQ (SI)(BX*1), R9
	VPMOVSXBD.Z (R9), K1, Z0
	VPMOVSXBD.Z (R9)(DX*1), K1, Z1
	VPSLLD $16, Z1, Z1
	VPBLENDMW Z1, Z0, K3, Z0
	VPSUBW Z4, Z0, Z0
	VMOVDQU32 Z0, K1, (DI)(BX*4)
	ADDQ $16, BX
	CMPQ BX, DX
	JLT s2block
	LEAQ (SI)(DX*2), SI
	LEAQ (DI)(DX*4), DI
	DECQ CX
	JNZ s2pos

s2done:
	VZEROUPPER
	RET

// func dwPairs3x3RqVNNI(out *int8, r0, r1, r2 *int32, w *int32, c, n, step int, p *colParams, lo, hi int64, p1 int)
//
// Per 16-channel block, the weights (Z6-Z11) and the output stage's
// constants (Z12-Z18: offset, which starts the accumulators, M0 of the
// even and odd columns, h of the even and odd columns, r, u; Z24
// ·rqhigh, Z25 lo, Z26 hi: the stage of RQFAST in qkernels_amd64.h) stay
// in registers while four output pixels at a time go through, their
// instructions interleaved stage by stage. Pointers: R9, R10,
// R11 pair 0 of rows 0-2, SI, AX, CX their pair 1 (R13 = p1 bytes on);
// R12 one output pixel's step in bytes, R15 three; DI the output, R8 c,
// R14 3c.
TEXT ·dwPairs3x3RqVNNI(SB), NOSPLIT, $0-96
	DWPAIRS(H, HL, dpblock, dppartial, dpmask, dpfour, dpone, dponeloop, dpnext)
	VZEROUPPER
	RET

// dwPairs3x3RqVNNIH0 is dwPairs3x3RqVNNI for output groups whose h are all
// 0: the h additions left out.
// func dwPairs3x3RqVNNIH0(out *int8, r0, r1, r2 *int32, w *int32, c, n, step int, p *colParams, lo, hi int64, p1 int)
TEXT ·dwPairs3x3RqVNNIH0(SB), NOSPLIT, $0-96
	DWPAIRS(NOH, NOHL, dpblockh0, dppartialh0, dpmaskh0, dpfourh0, dponeh0, dponelooph0, dpnexth0)
	VZEROUPPER
	RET
