//go:build amd64 && !noasm

#include "textflag.h"

// The products of one to four rows of Weights.Acc on the VNNI path
// (lstm_acc.go), the integer LSTM's recurrent step at a small batch.
// dotVNNI1xN, a matrix-vector product (batch 1): four 32-column panels at
// a time (eight independent accumulator chains) while four whole panels
// remain, then one panel at a time with the stores masked to the last
// columns. dotVNNI4xN: two to four rows, one panel at a time.

// func dotVNNI1xN(a *uint8, b *int8, kq, panels, n int, c *int32)
TEXT ·dotVNNI1xN(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ kq+16(FP), R11
	SHLQ $7, R11 // the bytes of one packed panel
	MOVQ panels+24(FP), R9
	MOVQ n+32(FP), R10
	MOVQ c+40(FP), DI

mvquad:
	CMPQ R9, $4
	JLT mvsingle
	CMPQ R10, $128
	JLT mvsingle
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ DX, AX
	LEAQ (DX)(R11*1), BX
	LEAQ (DX)(R11*2), CX
	LEAQ (BX)(R11*2), R12
	MOVQ SI, R13
	MOVQ R11, R8
	SHRQ $7, R8

mvqloop:
	VPBROADCASTD (R13), Z8
	VPDPBUSD (AX), Z8, Z0
	VPDPBUSD 64(AX), Z8, Z1
	VPDPBUSD (BX), Z8, Z2
	VPDPBUSD 64(BX), Z8, Z3
	VPDPBUSD (CX), Z8, Z4
	VPDPBUSD 64(CX), Z8, Z5
	VPDPBUSD (R12), Z8, Z6
	VPDPBUSD 64(R12), Z8, Z7
	ADDQ $4, R13
	ADDQ $128, AX
	ADDQ $128, BX
	ADDQ $128, CX
	ADDQ $128, R12
	DECQ R8
	JNZ mvqloop
	VMOVDQU32 Z0, (DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z7, 448(DI)
	ADDQ $512, DI
	LEAQ (DX)(R11*4), DX
	SUBQ $4, R9
	SUBQ $128, R10
	JMP mvquad

mvsingle:
	TESTQ R9, R9
	JEQ mvdone
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ DX, AX
	MOVQ SI, R13
	MOVQ R11, R8
	SHRQ $7, R8

mvsloop:
	VPBROADCASTD (R13), Z8
	VPDPBUSD (AX), Z8, Z0
	VPDPBUSD 64(AX), Z8, Z1
	ADDQ $4, R13
	ADDQ $128, AX
	DECQ R8
	JNZ mvsloop
	MOVQ R10, AX // the panel's columns: min(32, R10) as two masks
	CMPQ AX, $16
	JLE mvm0
	MOVQ $16, AX

mvm0:
	MOVQ $-1, BX
	BZHIQ AX, BX, AX
	KMOVW AX, K1
	MOVQ R10, AX
	SUBQ $16, AX
	JGE mvm1
	XORQ AX, AX

mvm1:
	CMPQ AX, $16
	JLE mvm2
	MOVQ $16, AX

mvm2:
	MOVQ $-1, BX
	BZHIQ AX, BX, AX
	KMOVW AX, K2
	VMOVDQU32 Z0, K1, (DI)
	VMOVDQU32 Z1, K2, 64(DI)
	ADDQ $128, DI
	ADDQ R11, DX
	DECQ R9
	SUBQ $32, R10
	JMP mvsingle

mvdone:
	VZEROUPPER
	RET

// func dotVNNI4xN(a *uint8, lda int, b *int8, kq, panels, n int, c *int32, ldc, rows int)
// The product of 2 to 4 rows (rows <= 4; a holds four rows of stride lda)
// with every panel: per panel eight accumulators (four rows, two column
// halves), the stores of rows < rows masked to the panel's columns < n;
// c's rows have stride ldc (int32 values).
TEXT ·dotVNNI4xN(SB), NOSPLIT, $0-72
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	MOVQ b+16(FP), DX
	MOVQ kq+24(FP), R11
	MOVQ panels+32(FP), R9
	MOVQ n+40(FP), R10
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R12
	SHLQ $2, R12 // bytes per row of c
	LEAQ (R8)(R8*2), R13 // 3 lda

m4panel:
	TESTQ R9, R9
	JEQ m4done
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ SI, AX
	MOVQ DX, BX
	MOVQ R11, CX

m4loop:
	VMOVDQU32 (BX), Z8
	VMOVDQU32 64(BX), Z9
	VPBROADCASTD (AX), Z10
	VPBROADCASTD (AX)(R8*1), Z11
	VPBROADCASTD (AX)(R8*2), Z12
	VPBROADCASTD (AX)(R13*1), Z13
	VPDPBUSD Z8, Z10, Z0
	VPDPBUSD Z9, Z10, Z1
	VPDPBUSD Z8, Z11, Z2
	VPDPBUSD Z9, Z11, Z3
	VPDPBUSD Z8, Z12, Z4
	VPDPBUSD Z9, Z12, Z5
	VPDPBUSD Z8, Z13, Z6
	VPDPBUSD Z9, Z13, Z7
	ADDQ $4, AX
	ADDQ $128, BX
	DECQ CX
	JNZ m4loop
	MOVQ R10, AX // the panel's columns: min(32, R10) as two masks
	CMPQ AX, $16
	JLE m4m0
	MOVQ $16, AX

m4m0:
	MOVQ $-1, BX
	BZHIQ AX, BX, AX
	KMOVW AX, K1
	MOVQ R10, AX
	SUBQ $16, AX
	JGE m4m1
	XORQ AX, AX

m4m1:
	CMPQ AX, $16
	JLE m4m2
	MOVQ $16, AX

m4m2:
	MOVQ $-1, BX
	BZHIQ AX, BX, AX
	KMOVW AX, K2
	MOVQ rows+64(FP), CX
	MOVQ DI, BX
	VMOVDQU32 Z0, K1, (BX)
	VMOVDQU32 Z1, K2, 64(BX)
	DECQ CX
	JEQ m4next
	ADDQ R12, BX
	VMOVDQU32 Z2, K1, (BX)
	VMOVDQU32 Z3, K2, 64(BX)
	DECQ CX
	JEQ m4next
	ADDQ R12, BX
	VMOVDQU32 Z4, K1, (BX)
	VMOVDQU32 Z5, K2, 64(BX)
	DECQ CX
	JEQ m4next
	ADDQ R12, BX
	VMOVDQU32 Z6, K1, (BX)
	VMOVDQU32 Z7, K2, 64(BX)

m4next:
	ADDQ $128, DI
	MOVQ R11, AX
	SHLQ $7, AX
	ADDQ AX, DX
	DECQ R9
	SUBQ $32, R10
	JMP m4panel

m4done:
	VZEROUPPER
	RET
