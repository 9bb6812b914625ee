//go:build amd64 && !noasm

#include "textflag.h"

// The AVX2 output stage (output.go): int32 accumulators of 8 columns
// requantized to int8 rows, with the colParams8 constants.

// Shuffle masks for requantAVX2x8: byte 0 of each int64 lane to its column's
// byte position (columns 0-3 from the first vector, 4-7 from the second).
DATA rqmask1<>+0(SB)/8, $0x8080808080800800
DATA rqmask1<>+8(SB)/8, $0x8080808080808080
DATA rqmask1<>+16(SB)/8, $0x8080808008008080
DATA rqmask1<>+24(SB)/8, $0x8080808080808080
GLOBL rqmask1<>(SB), RODATA|NOPTR, $32
DATA rqmask2<>+0(SB)/8, $0x8080080080808080
DATA rqmask2<>+8(SB)/8, $0x8080808080808080
DATA rqmask2<>+16(SB)/8, $0x0800808080808080
DATA rqmask2<>+24(SB)/8, $0x8080808080808080
GLOBL rqmask2<>(SB), RODATA|NOPTR, $32

// func requantAVX2x8(c *int32, ldc, rows int, p *colParams8, zp, lo, hi int64, out *int8, ldo int)
TEXT ·requantAVX2x8(SB), NOSPLIT, $0-72
	MOVQ c+0(FP), SI
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), CX
	MOVQ p+24(FP), DI
	MOVQ out+56(FP), DX
	MOVQ ldo+64(FP), R9
	VPBROADCASTQ zp+32(FP), Y10
	VPBROADCASTQ lo+40(FP), Y11
	VPBROADCASTQ hi+48(FP), Y12
	MOVQ $1, AX
	MOVQ AX, X9
	VPBROADCASTQ X9, Y9
	MOVQ $0x4000000000000000, AX
	MOVQ AX, X8
	VPBROADCASTQ X8, Y8
	VMOVDQU rqmask1<>(SB), Y13
	VMOVDQU rqmask2<>(SB), Y14
	TESTQ CX, CX
	JEQ r2done
	CMPQ 416(DI), $0
	JEQ r2loop
	// The fast form (no ties, shift >= 33) in 32-bit lanes on the
	// products' high dwords, as requantVNNI16's rqFast.
	VMOVDQU 288(DI), Y5 // m0, even columns
	VMOVDQU 320(DI), Y6 // m0, odd columns
	VMOVDQU 352(DI), Y7 // u
	VMOVDQU 384(DI), Y8 // r, with the zero point
	MOVQ lo+40(FP), AX
	MOVQ AX, X11
	VPBROADCASTD X11, Y11
	MOVQ hi+48(FP), AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12

r2floop:
	VMOVDQU (SI), Y0
	VPADDD (DI), Y0, Y0
	VPSRLQ $32, Y0, Y1
	VPMULDQ Y5, Y0, Y0
	VPMULDQ Y6, Y1, Y1
	VPADDQ 424(DI), Y0, Y0 // h
	VPADDQ 456(DI), Y1, Y1
	VPSRLQ $32, Y0, Y0
	VPBLENDD $0xaa, Y1, Y0, Y0 // high dwords, columns in order
	VPADDD Y8, Y0, Y0
	VPSRAVD Y7, Y0, Y0
	VPMAXSD Y11, Y0, Y0
	VPMINSD Y12, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW X1, X0, X0
	VPACKSSWB X0, X0, X0
	VMOVQ X0, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ r2floop
	JMP r2done

r2loop:
	VMOVDQU (SI), Y0
	VPADDD (DI), Y0, Y0 // acc + offset, wrapping in int32
	VPMOVSXDQ X0, Y1
	VEXTRACTI128 $1, Y0, X2
	VPMOVSXDQ X2, Y2
	VPMULDQ 32(DI), Y1, Y1 // p = acc * m0, columns 0-3
	VPMULDQ 64(DI), Y2, Y2 // columns 4-7
	// parity of floor(p / 2^s): bit s of p + 2^62 (s <= 61)
	VPADDQ Y8, Y1, Y3
	VPADDQ Y8, Y2, Y4
	VPSRLVQ 96(DI), Y3, Y3
	VPSRLVQ 128(DI), Y4, Y4
	VPAND Y9, Y3, Y3
	VPAND Y9, Y4, Y4
	// q = ((p + half - 1 + parity + 2^62) >>> s) - 2^(62-s)
	VPADDQ 160(DI), Y1, Y1
	VPADDQ 192(DI), Y2, Y2
	VPADDQ Y3, Y1, Y1
	VPADDQ Y4, Y2, Y2
	VPADDQ Y8, Y1, Y1
	VPADDQ Y8, Y2, Y2
	VPSRLVQ 96(DI), Y1, Y1
	VPSRLVQ 128(DI), Y2, Y2
	VPSUBQ 224(DI), Y1, Y1
	VPSUBQ 256(DI), Y2, Y2
	VPADDQ Y10, Y1, Y1
	VPADDQ Y10, Y2, Y2
	// clamp to [lo, hi]
	VPCMPGTQ Y11, Y1, Y3
	VPBLENDVB Y3, Y1, Y11, Y1
	VPCMPGTQ Y11, Y2, Y4
	VPBLENDVB Y4, Y2, Y11, Y2
	VPCMPGTQ Y12, Y1, Y3
	VPBLENDVB Y3, Y12, Y1, Y1
	VPCMPGTQ Y12, Y2, Y4
	VPBLENDVB Y4, Y12, Y2, Y2
	// the low byte of each lane to its column
	VPSHUFB Y13, Y1, Y1
	VPSHUFB Y14, Y2, Y2
	VPOR Y2, Y1, Y1
	VEXTRACTI128 $1, Y1, X3
	VPOR X3, X1, X1
	VMOVQ X1, (DX)
	ADDQ R8, SI
	ADDQ R9, DX
	DECQ CX
	JNZ r2loop

r2done:
	VZEROUPPER
	RET
