// Macros shared by more than one assembly file of the package (a file
// that uses them includes this header after textflag.h); a macro only one
// file uses is defined in that file.

// RQFAST(acc, t, tx, p, k, dst): the rqFast output stage (see
// requantVNNI16) of the 16 accumulators in acc, with the group constants
// at p (a register), into the int8 bytes at dst under mask k; t (tx its X
// form) is scratch. Z24 holds ·rqhigh (output_avx512_amd64.s), Z25 lo and
// Z26 hi (dwords).
#define RQFAST(acc, t, tx, p, k, dst) \
	VPADDD (p), acc, acc; \
	RQACC(acc, t, tx, p, k, dst)

// RQACC(acc, t, tx, p, k, dst) is RQFAST on accumulators that started
// from the group's offset (the kernels load it before the product), and
// RQACC0 is RQACC for a group whose every column has h = 0 (no column
// with Shift 32: the usual case), the h additions left out.
#define RQACC(acc, t, tx, p, k, dst) \
	VPSRLQ $32, acc, t; \
	VPMULDQ 64(p), acc, acc; \
	VPMULDQ 128(p), t, t; \
	VPADDQ 712(p), acc, acc; \
	VPADDQ 776(p), t, t; \
	RQTAIL(acc, t, tx, p, k, dst)

// RQACCF and RQACC0F are RQACC and RQACC0 for the full int8 clamp [-128,
// 127] (no fused activation): VPMOVSDB's saturation is the clamp.
#define RQACCF(acc, t, tx, p, k, dst) \
	VPSRLQ $32, acc, t; \
	VPMULDQ 64(p), acc, acc; \
	VPMULDQ 128(p), t, t; \
	VPADDQ 712(p), acc, acc; \
	VPADDQ 776(p), t, t; \
	RQTAILF(acc, t, tx, p, k, dst)

#define RQACC0F(acc, t, tx, p, k, dst) \
	VPSRLQ $32, acc, t; \
	VPMULDQ 64(p), acc, acc; \
	VPMULDQ 128(p), t, t; \
	RQTAILF(acc, t, tx, p, k, dst)

// RQTAILF is RQTAIL with the clamp to the int8 range in the narrowing.
#define RQTAILF(acc, t, tx, p, k, dst) \
	VPERMT2D t, Z24, acc; \
	VPADDD 648(p), acc, acc; \
	VPSRAVD 584(p), acc, acc; \
	VPMOVSDB acc, tx; \
	VMOVDQU8 tx, k, dst

// RQTAIL is the end of RQACC and RQACC0: the high dwords of the products
// gathered, rounded, shifted, clamped, narrowed and stored.
#define RQTAIL(acc, t, tx, p, k, dst) \
	VPERMT2D t, Z24, acc; \
	VPADDD 648(p), acc, acc; \
	VPSRAVD 584(p), acc, acc; \
	VPMAXSD Z25, acc, acc; \
	VPMINSD Z26, acc, acc; \
	VPMOVDB acc, tx; \
	VMOVDQU8 tx, k, dst

#define RQACC0(acc, t, tx, p, k, dst) \
	VPSRLQ $32, acc, t; \
	VPMULDQ 64(p), acc, acc; \
	VPMULDQ 128(p), t, t; \
	RQTAIL(acc, t, tx, p, k, dst)

// INIT_ACC24(pa, pb) starts the 24 accumulators Z0-Z23 of a 12x32 tile
// from the offsets of its column groups (at pa for columns 0-15, pb for
// 16-31); INIT_ACC12(pa) the 12 of a 12x16 tile.
#define INIT_ACC24(pa, pb) \
	VMOVDQU32 (pa), Z0; \
	VMOVDQU32 (pb), Z1; \
	VMOVDQA32 Z0, Z2; \
	VMOVDQA32 Z1, Z3; \
	VMOVDQA32 Z0, Z4; \
	VMOVDQA32 Z1, Z5; \
	VMOVDQA32 Z0, Z6; \
	VMOVDQA32 Z1, Z7; \
	VMOVDQA32 Z0, Z8; \
	VMOVDQA32 Z1, Z9; \
	VMOVDQA32 Z0, Z10; \
	VMOVDQA32 Z1, Z11; \
	VMOVDQA32 Z0, Z12; \
	VMOVDQA32 Z1, Z13; \
	VMOVDQA32 Z0, Z14; \
	VMOVDQA32 Z1, Z15; \
	VMOVDQA32 Z0, Z16; \
	VMOVDQA32 Z1, Z17; \
	VMOVDQA32 Z0, Z18; \
	VMOVDQA32 Z1, Z19; \
	VMOVDQA32 Z0, Z20; \
	VMOVDQA32 Z1, Z21; \
	VMOVDQA32 Z0, Z22; \
	VMOVDQA32 Z1, Z23

#define INIT_ACC12(pa) \
	VMOVDQU32 (pa), Z0; \
	VMOVDQA32 Z0, Z1; \
	VMOVDQA32 Z0, Z2; \
	VMOVDQA32 Z0, Z3; \
	VMOVDQA32 Z0, Z4; \
	VMOVDQA32 Z0, Z5; \
	VMOVDQA32 Z0, Z6; \
	VMOVDQA32 Z0, Z7; \
	VMOVDQA32 Z0, Z8; \
	VMOVDQA32 Z0, Z9; \
	VMOVDQA32 Z0, Z10; \
	VMOVDQA32 Z0, Z11
