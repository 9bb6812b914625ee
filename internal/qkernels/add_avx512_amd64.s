//go:build amd64 && !noasm

#include "textflag.h"

// The AVX-512 loops of AddRows (add.go), the rescaled int8 addition: in
// 64-bit integer lanes (AVX-512F and DQ, any shift), and in 32-bit lanes
// with VNNI's VPDPWSSD (the shifts of addWords).

// ADD16CORE is addRescale16's arithmetic on 16 lanes, a in Z0 and b in Z1
// (int32): Z1 = Z1<<16 | (Z0 & 0xffff), the words (a, b); VPDPWSSD forms
// H (Z2) and L (Z3); H' = H + L>>16; the borrow (K2) where the floor is
// even and L' == 0; then the shift, zero point, clamp and narrowing into X2.
#define ADD16CORE \
	VPSLLD $16, Z1, Z1; \
	VPTERNLOGD $0xf8, Z26, Z0, Z1; \
	VMOVDQA32 Z18, Z2; \
	VMOVDQA32 Z19, Z3; \
	VPDPWSSD Z16, Z1, Z2; \
	VPDPWSSD Z17, Z1, Z3; \
	VPSRAD $16, Z3, Z4; \
	VPADDD Z4, Z2, Z2; \
	VPTESTNMD Z20, Z2, K1; \
	VPTESTNMD Z26, Z3, K1, K2; \
	VPADDD Z21, Z2, Z2; \
	VPSUBD Z27, Z2, K2, Z2; \
	VPSRAD X22, Z2, Z2; \
	VPADDD Z23, Z2, Z2; \
	VPMAXSD Z24, Z2, Z2; \
	VPMINSD Z25, Z2, Z2; \
	VPMOVDB Z2, X2

// func addRescale8(y, a, b *int8, n int, p *AddParams)
// Rescaled add of n int8 values, n a multiple of 8 (AVX-512F/DQ):
// p = (a-zpA)*mA + (b-zpB)*mB; y = clamp(round_half_even(p/2^shift)+zpOut, lo, hi).
TEXT ·addRescale8(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ p+32(FP), R8
	SHRQ $3, CX
	JEQ addone
	VPBROADCASTQ 0(R8), Z16  // zpA
	VPBROADCASTQ 8(R8), Z17  // zpB
	VPBROADCASTQ 16(R8), Z18 // mA
	VPBROADCASTQ 24(R8), Z19 // mB
	VMOVQ 32(R8), X20        // shift
	VPBROADCASTQ 40(R8), Z21 // half - 1
	VPBROADCASTQ 48(R8), Z22 // zpOut
	VPBROADCASTQ 56(R8), Z23 // lo
	VPBROADCASTQ 64(R8), Z24 // hi
	MOVQ $1, AX
	VPBROADCASTQ AX, Z25

adloop:
	VPMOVSXBQ (SI), Z0
	VPMOVSXBQ (DI), Z1
	VPSUBQ Z16, Z0, Z0
	VPSUBQ Z17, Z1, Z1
	VPMULLQ Z18, Z0, Z0
	VPMULLQ Z19, Z1, Z1
	VPADDQ Z1, Z0, Z0
	VPSRAQ X20, Z0, Z2
	VPANDQ Z25, Z2, Z2
	VPADDQ Z21, Z0, Z0
	VPADDQ Z2, Z0, Z0
	VPSRAQ X20, Z0, Z0
	VPADDQ Z22, Z0, Z0
	VPMAXSQ Z23, Z0, Z0
	VPMINSQ Z24, Z0, Z0
	VPMOVQB Z0, X0
	VMOVQ X0, (DX)
	ADDQ $8, SI
	ADDQ $8, DI
	ADDQ $8, DX
	DECQ CX
	JNZ adloop

addone:
	VZEROUPPER
	RET

// func addRescale16(y, a, b *int8, n int, w *addWords)
// The rescaled add of n int8 values in int32 lanes (AVX-512 VNNI; the
// arithmetic is addWords', add.go): 16 at a time, then the last n%16 under
// a mask (masked-off bytes are neither read nor written).
TEXT ·addRescale16(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ w+32(FP), R8
	VPBROADCASTD 0(R8), Z16  // hA | hB<<16
	VPBROADCASTD 4(R8), Z17  // lA | lB<<16
	VPBROADCASTD 8(R8), Z18  // CH
	VPBROADCASTD 12(R8), Z19 // CL
	VPBROADCASTD 16(R8), Z20 // 1 << (shift-16)
	VPBROADCASTD 20(R8), Z21 // 1 << (shift-17)
	VMOVD 24(R8), X22        // shift - 16
	VPBROADCASTD 28(R8), Z23 // zpOut
	VPBROADCASTD 32(R8), Z24 // lo
	VPBROADCASTD 36(R8), Z25 // hi
	MOVL $0xffff, AX
	VPBROADCASTD AX, Z26     // low word mask
	MOVL $1, AX
	VPBROADCASTD AX, Z27
	SUBQ $16, CX
	JLT add16tail

add16loop:
	VPMOVSXBD (SI), Z0
	VPMOVSXBD (DI), Z1
	ADD16CORE
	VMOVDQU X2, (DX)
	ADDQ $16, SI
	ADDQ $16, DI
	ADDQ $16, DX
	SUBQ $16, CX
	JGE add16loop

add16tail:
	ADDQ $16, CX
	JEQ add16done
	MOVQ $-1, AX
	BZHIQ CX, AX, AX
	KMOVW AX, K3             // the last n%16 lanes
	VPMOVSXBD (SI), K3, Z0
	VPMOVSXBD (DI), K3, Z1
	ADD16CORE
	VMOVDQU8 X2, K3, (DX)

add16done:
	VZEROUPPER
	RET
