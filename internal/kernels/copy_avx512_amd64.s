//go:build amd64 && !noasm

#include "textflag.h"

// CopyRowsNT's AVX-512F body (copy.go): 16 floats per unaligned load and
// aligned non-temporal store, an SFENCE at the end.
// func f32CopyRowsNTAVX512(dst, src *float32, n, width, dstStride, srcStride int)
TEXT ·f32CopyRowsNTAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ width+24(FP), BX
	SHLQ $2, BX // row bytes
	MOVQ dstStride+32(FP), DX
	SHLQ $2, DX
	MOVQ srcStride+40(FP), R8
	SHLQ $2, R8

copy_row:
	XORQ AX, AX

copy_block:
	VMOVUPS  (SI)(AX*1), Z0
	VMOVNTPS Z0, (DI)(AX*1)
	ADDQ     $64, AX
	CMPQ     AX, BX
	JLT      copy_block

	ADDQ DX, DI
	ADDQ R8, SI
	DECQ CX
	JNE  copy_row

	SFENCE
	VZEROUPPER
	RET

// CopyRows' AVX-512F body (copy.go): 16 floats per unaligned load and
// store, 48 (three registers) at a time while a row has that many left.
// func f32CopyRowsAVX512(dst, src *float32, n, width, dstStride, srcStride int)
TEXT ·f32CopyRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ width+24(FP), BX
	SHLQ $2, BX // row bytes
	MOVQ dstStride+32(FP), DX
	SHLQ $2, DX
	MOVQ srcStride+40(FP), R8
	SHLQ $2, R8
	LEAQ -192(BX), R9 // last start of a 3-register block

rows_row:
	XORQ AX, AX
	CMPQ AX, R9
	JGT  rows_one

rows_three:
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS 64(SI)(AX*1), Z1
	VMOVUPS 128(SI)(AX*1), Z2
	VMOVUPS Z0, (DI)(AX*1)
	VMOVUPS Z1, 64(DI)(AX*1)
	VMOVUPS Z2, 128(DI)(AX*1)
	ADDQ    $192, AX
	CMPQ    AX, R9
	JLE     rows_three

rows_one:
	CMPQ AX, BX
	JGE  rows_next
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	JMP     rows_one

rows_next:
	ADDQ DX, DI
	ADDQ R8, SI
	DECQ CX
	JNE  rows_row

	VZEROUPPER
	RET
