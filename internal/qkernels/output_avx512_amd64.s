//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 output stage (output.go): int32 accumulators of up to 16
// columns requantized to int8 rows, in the rqFast, rqNarrow or rqWide form
// of the group's colParams. The permutation ·rqhigh defined here is also
// loaded by the fused kernels of gemm_vnni_amd64.s and
// depthwise_vnni_amd64.s.

// func requantVNNI16(c *int32, ldc, rows int, p *colParams, zp, lo, hi int64, out *int8, ldo, cols int)
// The even and odd lanes of each row are multiplied separately (VPMULDQ
// reads the low dword of each qword). In p.mode rqFast the high dwords of
// the products are interleaved back into 16 lanes (VPERMT2D) and rounded
// and shifted there; otherwise the products are rounded half to even in
// 64-bit lanes (the parity bit 2^shift tested with VPTESTMQ), shifted and
// interleaved, and the zero point and clamp are 32-bit unless rqWide (a
// shift below 31) asks for them in 64 bits.
TEXT ·requantVNNI16(SB), NOSPLIT, $0-80
	MOVQ c+0(FP), SI
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), CX
	MOVQ p+24(FP), DI
	MOVQ out+56(FP), DX
	MOVQ ldo+64(FP), R9
	MOVQ cols+72(FP), R10
	MOVQ $-1, AX
	BZHIQ R10, AX, AX
	KMOVW AX, K2 // the columns to read and write
	VMOVDQU32 (DI), Z16    // offset
	VMOVDQU64 64(DI), Z17  // m0, even columns
	VMOVDQU64 128(DI), Z18 // m0, odd columns
	VMOVDQU64 192(DI), Z19 // shift
	VMOVDQU64 256(DI), Z20
	VMOVDQU64 320(DI), Z21 // half-1
	VMOVDQU64 384(DI), Z22
	VMOVDQU64 448(DI), Z23 // 2^shift: the parity bit of the quotient
	VMOVDQU64 512(DI), Z24
	MOVQ $1, AX
	VPBROADCASTQ AX, Z25
	VMOVDQU32 rqinterleave<>(SB), Z26
	TESTQ CX, CX
	JEQ rqdone
	CMPQ 576(DI), $1
	JEQ rqnarrow
	JGT rqwide
	VMOVDQU32 ·rqhigh(SB), Z26
	VMOVDQU32 584(DI), Z19 // u = shift-32
	VMOVDQU32 648(DI), Z20 // r = 2^(u-1) + zp*2^u (or zp)
	VMOVDQU64 712(DI), Z21 // h, even columns
	VMOVDQU64 776(DI), Z22 // odd columns
	MOVQ lo+40(FP), AX
	VPBROADCASTD AX, Z28
	MOVQ hi+48(FP), AX
	VPBROADCASTD AX, Z29

rqfloop:
	VPADDD.Z (SI), Z16, K2, Z0 // acc + offset, wrapping in int32
	VPSRLQ $32, Z0, Z1
	VPMULDQ Z17, Z0, Z0
	VPMULDQ Z18, Z1, Z1
	VPADDQ Z21, Z0, Z0 // h: the half of a column with shift 32
	VPADDQ Z22, Z1, Z1
	VPERMT2D Z1, Z26, Z0 // the products' high dwords, in column order
	VPADDD Z20, Z0, Z0
	VPSRAVD Z19, Z0, Z0 // round half up = half to even here (no ties), plus zp
	VPMAXSD Z28, Z0, Z0
	VPMINSD Z29, Z0, Z0
	VPMOVDB Z0, X0
	VMOVDQU8 X0, K2, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ rqfloop
	JMP rqdone

rqnarrow:
	MOVQ zp+32(FP), AX
	VPBROADCASTD AX, Z27
	MOVQ lo+40(FP), AX
	VPBROADCASTD AX, Z28
	MOVQ hi+48(FP), AX
	VPBROADCASTD AX, Z29

rqloop:
	VPADDD.Z (SI), Z16, K2, Z0 // acc + offset, wrapping in int32
	VPSRLQ $32, Z0, Z1         // odd lanes into the low dwords
	VPMULDQ Z17, Z0, Z0        // p = acc * m0
	VPMULDQ Z18, Z1, Z1
	VPTESTMQ Z23, Z0, K3       // the quotient's parity
	VPTESTMQ Z24, Z1, K4
	VPADDQ Z21, Z0, Z0
	VPADDQ Z22, Z1, Z1
	VPADDQ Z25, Z0, K3, Z0
	VPADDQ Z25, Z1, K4, Z1
	VPSRAVQ Z19, Z0, Z0 // (p + half - 1 + parity) >> s: half to even, |q| < 2^31
	VPSRAVQ Z20, Z1, Z1
	VPERMT2D Z1, Z26, Z0 // even and odd lanes back in order
	VPADDD Z27, Z0, Z0
	VPMAXSD Z28, Z0, Z0
	VPMINSD Z29, Z0, Z0
	VPMOVDB Z0, X0
	VMOVDQU8 X0, K2, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ rqloop
	JMP rqdone

rqwide:
	VPBROADCASTQ zp+32(FP), Z27
	VPBROADCASTQ lo+40(FP), Z28
	VPBROADCASTQ hi+48(FP), Z29

rqwloop:
	VPADDD.Z (SI), Z16, K2, Z0
	VPSRLQ $32, Z0, Z1
	VPMULDQ Z17, Z0, Z0
	VPMULDQ Z18, Z1, Z1
	VPTESTMQ Z23, Z0, K3
	VPTESTMQ Z24, Z1, K4
	VPADDQ Z21, Z0, Z0
	VPADDQ Z22, Z1, Z1
	VPADDQ Z25, Z0, K3, Z0
	VPADDQ Z25, Z1, K4, Z1
	VPSRAVQ Z19, Z0, Z0
	VPSRAVQ Z20, Z1, Z1
	VPADDQ Z27, Z0, Z0 // zero point and clamp in 64-bit lanes
	VPADDQ Z27, Z1, Z1
	VPMAXSQ Z28, Z0, Z0
	VPMAXSQ Z28, Z1, Z1
	VPMINSQ Z29, Z0, Z0
	VPMINSQ Z29, Z1, Z1
	VPERMT2D Z1, Z26, Z0
	VPMOVDB Z0, X0
	VMOVDQU8 X0, K2, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ rqwloop

rqdone:
	VZEROUPPER
	RET

// rqinterleave: dword i of requantVNNI16's result is the low dword of
// qword i/2 of the even (i even) or odd (i odd) products.
DATA rqinterleave<>+0(SB)/4, $0
DATA rqinterleave<>+4(SB)/4, $16
DATA rqinterleave<>+8(SB)/4, $2
DATA rqinterleave<>+12(SB)/4, $18
DATA rqinterleave<>+16(SB)/4, $4
DATA rqinterleave<>+20(SB)/4, $20
DATA rqinterleave<>+24(SB)/4, $6
DATA rqinterleave<>+28(SB)/4, $22
DATA rqinterleave<>+32(SB)/4, $8
DATA rqinterleave<>+36(SB)/4, $24
DATA rqinterleave<>+40(SB)/4, $10
DATA rqinterleave<>+44(SB)/4, $26
DATA rqinterleave<>+48(SB)/4, $12
DATA rqinterleave<>+52(SB)/4, $28
DATA rqinterleave<>+56(SB)/4, $14
DATA rqinterleave<>+60(SB)/4, $30
GLOBL rqinterleave<>(SB), RODATA|NOPTR, $64

// rqhigh: dword i is the high dword of qword i/2 of the even (i even) or
// odd (i odd) products. A package symbol, not a file-local (<>) one: the
// fused kernels of gemm_vnni_amd64.s and depthwise_vnni_amd64.s load it
// for RQFAST.
DATA ·rqhigh+0(SB)/4, $1
DATA ·rqhigh+4(SB)/4, $17
DATA ·rqhigh+8(SB)/4, $3
DATA ·rqhigh+12(SB)/4, $19
DATA ·rqhigh+16(SB)/4, $5
DATA ·rqhigh+20(SB)/4, $21
DATA ·rqhigh+24(SB)/4, $7
DATA ·rqhigh+28(SB)/4, $23
DATA ·rqhigh+32(SB)/4, $9
DATA ·rqhigh+36(SB)/4, $25
DATA ·rqhigh+40(SB)/4, $11
DATA ·rqhigh+44(SB)/4, $27
DATA ·rqhigh+48(SB)/4, $13
DATA ·rqhigh+52(SB)/4, $29
DATA ·rqhigh+56(SB)/4, $15
DATA ·rqhigh+60(SB)/4, $31
GLOBL ·rqhigh(SB), RODATA|NOPTR, $64
