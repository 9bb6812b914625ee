//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 integer LSTM and SimpleRNN cells (lstm_cell.go): 16 units
// per iteration in 32-bit lanes, the Q3.12 -> Q0.15 functions read from
// the tables with VPGATHERDD (a dword at byte 2*(z+32768): the entry in its
// low half, sign-extended), the roundings half to even as in the Go
// cells, the output multiplier in 64-bit lanes (even and odd units apart,
// VPMULDQ) and the int8 codes stored under the mask of the last units.

// CELL_SETUP loads the constants of k (DX) shared by both cells.
#define CELL_SETUP \
	MOVQ 24(DX), AX; \
	VPBROADCASTQ AX, Z23; \
	MOVQ 32(DX), AX; \
	VPBROADCASTQ AX, Z24; \
	MOVQ 40(DX), AX; \
	VPBROADCASTQ AX, Z25; \
	MOVQ 48(DX), AX; \
	VPBROADCASTQ AX, Z26; \
	MOVQ 56(DX), AX; \
	VPBROADCASTQ AX, Z27; \
	MOVQ 64(DX), AX; \
	VPBROADCASTQ AX, Z28; \
	MOVL $32768, AX; \
	VPBROADCASTD AX, Z29; \
	MOVL $1, AX; \
	VPBROADCASTD AX, Z30; \
	MOVQ $1, AX; \
	VPBROADCASTQ AX, Z31; \
	MOVL $-32768, AX; \
	VPBROADCASTD AX, Z18; \
	MOVL $32767, AX; \
	VPBROADCASTD AX, Z19; \
	MOVL $0xAAAA, AX; \
	KMOVW AX, K2

// CELL_MASK sets K1 to the next min(16, CX) units.
#define CELL_MASK(FULL) \
	MOVQ $-1, AX; \
	CMPQ CX, $16; \
	JGE FULL; \
	BZHIQ CX, AX, AX; \
FULL: \
	KMOVW AX, K1

// LOOKUP(idx, dst, tab) gathers the table entries at Q3.12 codes idx
// (int32 lanes; overwritten with the index) into dst, sign-extended.
#define LOOKUP(idx, dst, tab) \
	VPADDD Z29, idx, idx; \
	KMOVW K1, K3; \
	VPGATHERDD (tab)(idx*2), K3, dst; \
	VPSLLD $16, dst, dst; \
	VPSRAD $16, dst, dst

// CELL_OUT(p) stores the codes of the products p (int32 lanes):
// clamp(round_half_even(p * m0 / 2^s) + zh, lo, hi), to (DI) under K1.
#define CELL_OUT(p) \
	VPSRLQ $32, p, Z13; \
	VPMULDQ Z23, p, p; \
	VPMULDQ Z23, Z13, Z13; \
	CELL_TAIL(p)

// CELL_TAIL(p) is the end of CELL_OUT on the 64-bit products of the even
// units (p) and of the odd ones (Z13).
#define CELL_TAIL(p) \
	VPSRAVQ Z24, p, Z14; \
	VPSRAVQ Z24, Z13, Z15; \
	VPANDQ Z31, Z14, Z14; \
	VPANDQ Z31, Z15, Z15; \
	VPADDQ Z25, p, p; \
	VPADDQ Z25, Z13, Z13; \
	VPADDQ Z14, p, p; \
	VPADDQ Z15, Z13, Z13; \
	VPSRAVQ Z24, p, p; \
	VPSRAVQ Z24, Z13, Z13; \
	VPADDQ Z26, p, p; \
	VPADDQ Z26, Z13, Z13; \
	VPMAXSQ Z27, p, p; \
	VPMINSQ Z28, p, p; \
	VPMAXSQ Z27, Z13, Z13; \
	VPMINSQ Z28, Z13, Z13; \
	VPSLLQ $32, Z13, Z13; \
	VMOVDQA32 Z13, K2, p; \
	VPMOVDB p, K1, (DI)

// SAT16(v) clamps the int32 lanes of v to the int16 range.
#define SAT16(v) \
	VPMAXSD Z18, v, v; \
	VPMINSD Z19, v, v

// func lstmCellAVX512(z *int16, c *int16, h *int8, u int, tab *int16, k *cellConsts)
TEXT ·lstmCellAVX512(SB), NOSPLIT, $0-48
	MOVQ z+0(FP), SI
	MOVQ c+8(FP), BX
	MOVQ h+16(FP), DI
	MOVQ u+24(FP), CX
	MOVQ tab+32(FP), R8
	MOVQ k+40(FP), DX
	LEAQ 131072(R8), R9 // the tanh table
	MOVQ CX, R10
	SHLQ $1, R10 // the bytes of one gate block
	LEAQ (R10)(R10*2), R11
	CELL_SETUP
	MOVQ 0(DX), AX
	VPBROADCASTD AX, Z20 // 30+E
	MOVQ 8(DX), AX
	VPBROADCASTD AX, Z21 // 2^(29+E) - 1
	MOVQ 16(DX), AX
	VPBROADCASTD AX, Z22 // 12+E
	MOVL $16383, AX
	VPBROADCASTD AX, Z17 // 2^14 - 1

lcloop:
	TESTQ CX, CX
	JLE lcdone
	CELL_MASK(lcfull)
	VPMOVSXWD.Z (SI), K1, Z0
	VPMOVSXWD.Z (SI)(R10*1), K1, Z1
	VPMOVSXWD.Z (SI)(R10*2), K1, Z2
	VPMOVSXWD.Z (SI)(R11*1), K1, Z3
	LOOKUP(Z0, Z4, R8) // i
	LOOKUP(Z1, Z5, R8) // f
	LOOKUP(Z2, Z6, R9) // g
	LOOKUP(Z3, Z7, R8) // o
	VPMOVSXWD.Z (BX), K1, Z8
	VPMULLD Z5, Z8, Z8 // f c
	VPSRAD $15, Z8, Z9
	VPANDD Z30, Z9, Z9
	VPADDD Z17, Z8, Z8
	VPADDD Z9, Z8, Z8
	VPSRAD $15, Z8, Z8
	VPMULLD Z6, Z4, Z10 // i g
	VPSRAVD Z20, Z10, Z11
	VPANDD Z30, Z11, Z11
	VPADDD Z21, Z10, Z10
	VPADDD Z11, Z10, Z10
	VPSRAVD Z20, Z10, Z10
	VPADDD Z10, Z8, Z8
	VPMAXSD Z18, Z8, Z8
	VPMINSD Z19, Z8, Z8 // c'
	VPMOVDW Z8, K1, (BX)
	VPSLLVD Z22, Z8, Z8
	VPMAXSD Z18, Z8, Z8
	VPMINSD Z19, Z8, Z8
	LOOKUP(Z8, Z12, R9) // tanh(c')
	VPMULLD Z7, Z12, Z12 // o tanh(c'), Q0.30
	CELL_OUT(Z12)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $16, DI
	SUBQ $16, CX
	JMP lcloop

lcdone:
	VZEROUPPER
	RET

// func rnnCellAVX512(z *int16, h *int8, u int, tab *int16, k *cellConsts)
TEXT ·rnnCellAVX512(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ h+8(FP), DI
	MOVQ u+16(FP), CX
	MOVQ tab+24(FP), R8
	MOVQ k+32(FP), DX
	LEAQ 131072(R8), R9
	CELL_SETUP

rcloop:
	TESTQ CX, CX
	JLE rcdone
	CELL_MASK(rcfull)
	VPMOVSXWD.Z (SI), K1, Z0
	LOOKUP(Z0, Z12, R9) // tanh(z), Q0.15
	CELL_OUT(Z12)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $16, CX
	JMP rcloop

rcdone:
	VZEROUPPER
	RET

// func gruCellAVX512(px, pr *int16, h *int8, u int, tab *int16, k *cellConsts)
// The GRU step (lite's gruCell): px and pr the two Q3.12 products of the
// z, r and h columns (three blocks of u), h the previous codes, replaced;
// m1 (k's m0) and m2 (at byte 72) the common-shift multipliers.
TEXT ·gruCellAVX512(SB), NOSPLIT, $0-48
	MOVQ px+0(FP), SI
	MOVQ pr+8(FP), BX
	MOVQ h+16(FP), DI
	MOVQ u+24(FP), CX
	MOVQ tab+32(FP), R8
	MOVQ k+40(FP), DX
	LEAQ 131072(R8), R9
	MOVQ CX, R10
	SHLQ $1, R10
	CELL_SETUP
	MOVQ 72(DX), AX
	VPBROADCASTQ AX, Z21 // m2
	MOVQ 48(DX), AX
	VPBROADCASTD AX, Z20 // zh, dwords
	MOVL $16383, AX
	VPBROADCASTD AX, Z17

gcloop:
	TESTQ CX, CX
	JLE gcdone
	CELL_MASK(gcfull)
	VPMOVSXWD.Z (SI), K1, Z0
	VPMOVSXWD.Z (BX), K1, Z1
	VPADDD Z1, Z0, Z0
	SAT16(Z0)
	LOOKUP(Z0, Z4, R8) // z
	VPMOVSXWD.Z (SI)(R10*1), K1, Z0
	VPMOVSXWD.Z (BX)(R10*1), K1, Z1
	VPADDD Z1, Z0, Z0
	SAT16(Z0)
	LOOKUP(Z0, Z5, R8) // r
	VPMOVSXWD.Z (BX)(R10*2), K1, Z2
	VPMULLD Z2, Z5, Z2 // r pr_h
	VPSRAD $15, Z2, Z3
	VPANDD Z30, Z3, Z3
	VPADDD Z17, Z2, Z2
	VPADDD Z3, Z2, Z2
	VPSRAD $15, Z2, Z2
	SAT16(Z2)
	VPMOVSXWD.Z (SI)(R10*2), K1, Z3
	VPADDD Z3, Z2, Z2
	SAT16(Z2)
	LOOKUP(Z2, Z6, R9) // n
	VPMOVSXBD.Z (DI), K1, Z7
	VPSUBD Z20, Z7, Z7
	VPMULLD Z4, Z7, Z7 // z (h - zh)
	VPSUBD Z4, Z29, Z8
	VPMULLD Z6, Z8, Z8 // (2^15 - z) n
	VPSRLQ $32, Z7, Z9
	VPSRLQ $32, Z8, Z10
	VPMULDQ Z23, Z7, Z12
	VPMULDQ Z21, Z8, Z8
	VPADDQ Z8, Z12, Z12
	VPMULDQ Z23, Z9, Z13
	VPMULDQ Z21, Z10, Z10
	VPADDQ Z10, Z13, Z13
	CELL_TAIL(Z12)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $16, DI
	SUBQ $16, CX
	JMP gcloop

gcdone:
	VZEROUPPER
	RET
