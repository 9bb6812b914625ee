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
	VPSRLQ $32, acc, t; \
	VPMULDQ 64(p), acc, acc; \
	VPMULDQ 128(p), t, t; \
	VPADDQ 712(p), acc, acc; \
	VPADDQ 776(p), t, t; \
	VPERMT2D t, Z24, acc; \
	VPADDD 648(p), acc, acc; \
	VPSRAVD 584(p), acc, acc; \
	VPMAXSD Z25, acc, acc; \
	VPMINSD Z26, acc, acc; \
	VPMOVDB acc, tx; \
	VMOVDQU8 tx, k, dst
