//go:build amd64 && !noasm

#include "textflag.h"

// The AVX2 micro-kernel of Gemm (gemm.go): a 4x16 tile of int32 dot
// products, activation bytes widened to 16 bits and multiplied with
// VPMADDWD against weights packed as int16 pairs.

// func dotAVX2x4x16(a *uint8, lda int, b *int16, kq int, c *int32)
TEXT ·dotAVX2x4x16(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	MOVQ b+16(FP), DI
	MOVQ kq+24(FP), CX
	MOVQ c+32(FP), DX
	LEAQ (R8)(R8*2), R9 // 3*lda
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

avx2loop:
	VMOVDQU (DI), Y8    // columns 0-7, k pairs (0,1)
	VMOVDQU 32(DI), Y9  // columns 0-7, k pairs (2,3)
	VMOVDQU 64(DI), Y10 // columns 8-15, (0,1)
	VMOVDQU 96(DI), Y11 // columns 8-15, (2,3)
	VPBROADCASTD (SI), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y0, Y0
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y0, Y0
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y1, Y1
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y1, Y1
	VPBROADCASTD (SI)(R8*1), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y2, Y2
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y2, Y2
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y3, Y3
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y3, Y3
	VPBROADCASTD (SI)(R8*2), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y4, Y4
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y4, Y4
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y5, Y5
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y5, Y5
	VPBROADCASTD (SI)(R9*1), X12
	VPMOVZXBW X12, Y12 // words a0 a1 a2 a3 a0 ...
	VPSHUFD $0x00, Y12, Y13 // (a0, a1) in every dword
	VPSHUFD $0x55, Y12, Y12 // (a2, a3)
	VPMADDWD Y8, Y13, Y14
	VPADDD Y14, Y6, Y6
	VPMADDWD Y9, Y12, Y15
	VPADDD Y15, Y6, Y6
	VPMADDWD Y10, Y13, Y14
	VPADDD Y14, Y7, Y7
	VPMADDWD Y11, Y12, Y15
	VPADDD Y15, Y7, Y7
	ADDQ $4, SI
	ADDQ $128, DI
	DECQ CX
	JNZ avx2loop
	VMOVDQU Y0, 0(DX)
	VMOVDQU Y1, 32(DX)
	VMOVDQU Y2, 64(DX)
	VMOVDQU Y3, 96(DX)
	VMOVDQU Y4, 128(DX)
	VMOVDQU Y5, 160(DX)
	VMOVDQU Y6, 192(DX)
	VMOVDQU Y7, 224(DX)
	VZEROUPPER
	RET
