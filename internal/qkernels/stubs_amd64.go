//go:build amd64 && !noasm

package qkernels

import "golang.org/x/sys/cpu"

// The Go declarations of every assembly routine of the package, grouped by
// the file that holds it (<concept>_<isa>_amd64.s; qkernels_amd64.h holds
// the macros several files share). The doc comment of each is the loop it
// computes; the callers hold the pure-Go path, and stubs_noasm.go the
// stand-ins of a build without assembly.

// CPU features the assembly paths need (x/sys/cpu also checks that the OS
// saves the Y and Z register state).
var (
	hasAVX2 = cpu.X86.HasAVX2
	hasVNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
	hasDQ   = cpu.X86.HasAVX512DQ
)

// gemm_vnni_amd64.s: the VNNI micro-kernels of Gemm.

// dotVNNI12x32 computes one 12x32 tile of int32 dot products with AVX-512
// VNNI:
//
//	for i := 0; i < 12; i++ {
//		for j := 0; j < 32; j++ {
//			var s int32
//			for q := 0; q < kq; q++ {
//				for t := 0; t < 4; t++ {
//					s += int32(a[i*lda+4*q+t]) * int32(b[q*128+j*4+t])
//				}
//			}
//			c[i*32+j] = s
//		}
//	}
//
// a is uint8 rows of stride lda, b a packed 32-column panel; kq >= 1.
//
//go:noescape
func dotVNNI12x32(a *uint8, lda int, b *int8, kq int, c *int32)

// dotRqVNNI12x32 is dotVNNI12x32 followed by the rqFast output stage of
// its two 16-column groups (p0 for columns 0-15, p1 for 16-31; both in
// rqFast mode; p1 may be p0 when cols <= 16) on the accumulators while
// they are in registers. With c the tile dotVNNI12x32 computes, for
// 1 <= rows <= 12 and cols <= 32:
//
//	for i := 0; i < rows; i++ {
//		for j := 0; j < cols; j++ {
//			g := p0
//			if j >= 16 {
//				g = p1
//			}
//			out[i*ldo+j] = rqfast(g, j%16, c[i*32+j])
//		}
//	}
//
// where rqfast is the stage of fastForm on lane l of a group:
//
//	func rqfast(g *colParams, l int, acc int32) int8 {
//		acc += g.offset[l]                                        // int32, wrapping
//		p := int64(acc)*g.m0[l%2][l/2] + g.h64[l%2][l/2]
//		v := (int32(p>>32) + g.r32[l]) >> g.u32[l]
//		return int8(clamp(v, lo, hi))
//	}
//
// No int32 tile is stored.
//
//go:noescape
func dotRqVNNI12x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// dotRqVNNI12x16 is dotRqVNNI12x32 for a panel with cols <= 16: it reads
// the first 16 columns of each packed k group only (b[q*128+j*4+t], j <
// 16) and runs p0's output stage, c as there:
//
//	for i := 0; i < rows; i++ {
//		for j := 0; j < cols; j++ {
//			out[i*ldo+j] = rqfast(p0, j, c[i*32+j])
//		}
//	}
//
//go:noescape
func dotRqVNNI12x16(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// dotRqVNNI12x32H0 and dotRqVNNI12x16H0 are dotRqVNNI12x32 and
// dotRqVNNI12x16 for column groups whose fastForm h are all 0 (no column
// with Shift 32): the same results without the h additions.
//
//go:noescape
func dotRqVNNI12x32H0(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI12x16H0(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// The 4x32 variants are the 12x32 kernels (and their H0 and F forms) for
// a tile of at most four rows (rows <= 4), the remainder of a product whose
// row count is not a multiple of MR: a third of the products of a 12-row
// tile.
//
//go:noescape
func dotRqVNNI4x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI4x32H0(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI4x32F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI4x32H0F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// The F variants are the kernels above for the full int8 clamp (lo = -128,
// hi = 127: no fused activation), which the saturating narrowing applies.
//
//go:noescape
func dotRqVNNI12x32F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI12x32H0F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI12x16F(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

//go:noescape
func dotRqVNNI12x16H0F(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// direct_vnni_amd64.s: the VNNI micro-kernel of Gemm.RunDirect.

// dotRqVNNIDirect12x32 is dotRqVNNI12x32 on rows read in place: row r of
// the tile is segs segments of 4*segq bytes, segment s at
// a[r*lda+s*(4*segq+segSkip):], and its results go to out[outs[r]:], or
// nowhere when outs[r] < 0. With
//
//	c[r][j] = sum over s < segs, q < segq, t < 4 of
//	          int32(a[r*lda+s*(4*segq+segSkip)+4*q+t]) * int32(b[(s*segq+q)*128+j*4+t])
//
// it computes, for r < 12 and j < cols <= 32,
//
//	if outs[r] >= 0 {
//		g := p0
//		if j >= 16 {
//			g = p1
//		}
//		out[outs[r]+j] = rqfast(g, j%16, c[r][j]) // see dotRqVNNI12x32
//	}
//
//go:noescape
func dotRqVNNIDirect12x32(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int)

// dotRqVNNIDirect12x32H0 is dotRqVNNIDirect12x32 for column groups whose
// fastForm h are all 0.
//
//go:noescape
func dotRqVNNIDirect12x32H0(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int)

// dotRqVNNIDirect12x32F and dotRqVNNIDirect12x32H0F are the direct kernels
// for the full int8 clamp.
//
//go:noescape
func dotRqVNNIDirect12x32F(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int)

//go:noescape
func dotRqVNNIDirect12x32H0F(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int)

// gemm_avx2_amd64.s: the AVX2 micro-kernel of Gemm.

// dotAVX2x4x16 computes one 4x16 tile of int32 dot products with AVX2
// (bytes widened to 16 bits, VPMADDWD), from a 16-column panel packed as
// int16 pairs:
//
//	for i := 0; i < 4; i++ {
//		for j := 0; j < 16; j++ {
//			var s int32
//			for q := 0; q < kq; q++ {
//				for t := 0; t < 4; t++ {
//					s += int32(a[i*lda+4*q+t]) * int32(b16(q, j, t))
//				}
//			}
//			c[i*16+j] = s
//		}
//	}
//
// where b16(q, j, t) = b[q*64 + (j/8)*32 + (t/2)*16 + (j%8)*2 + t%2].
//
//go:noescape
func dotAVX2x4x16(a *uint8, lda int, b *int16, kq int, c *int32)

// output_avx512_amd64.s: the AVX-512 output stage.

// requantVNNI16 runs the output stage on rows of cols <= 16 int32
// accumulators (stride ldc) into int8 rows (stride ldo; only the first cols
// values of each row are read and written), with per-column constants for
// those columns (p: offset [16]int32, then m0, shift, half-1 [16]int64
// each) and zp, lo, hi: for each row i and column j,
//
//	acc := c[i*ldc+j] + offset[j]                     // int32, wrapping
//	p := int64(acc) * m0[j]
//	q := (p + half1[j] + (p>>shift[j])&1) >> shift[j] // round half to even
//	out[i*ldo+j] = int8(clamp(q+zp, lo, hi))   // j < cols
//
// p.mode picks how: rqFast runs rqfast (see dotRqVNNI12x32), which gives
// the same int8; rqNarrow and rqWide compute q as above.
//
//go:noescape
func requantVNNI16(c *int32, ldc, rows int, p *colParams, zp, lo, hi int64, out *int8, ldo, cols int)

// output_avx2_amd64.s: the AVX2 output stage.

// requantAVX2x8 is the AVX2 output stage on rows of 8 accumulators (stride
// ldc) into int8 rows (stride ldo), with the constants of those 8 columns
// (shifts at most 61), the integers requantVNNI16 computes:
//
//	for i := 0; i < rows; i++ {
//		for j := 0; j < 8; j++ {
//			acc := c[i*ldc+j] + p.offset[j]                         // int32, wrapping
//			v := int64(acc) * p.m0[j]
//			q := (v + p.half1[j] + (v>>p.shift[j])&1) >> p.shift[j] // round half to even
//			out[i*ldo+j] = int8(clamp(q+zp, lo, hi))
//		}
//	}
//
// The arithmetic shift is done as a logical one on v + 2^62 (which is then
// subtracted as 2^(62-shift)) and the 64-bit clamps by compare and blend;
// when p.fast is 1 it runs rqfast instead (see dotRqVNNI12x32), in 32-bit
// lanes.
//
//go:noescape
func requantAVX2x8(c *int32, ldc, rows int, p *colParams8, zp, lo, hi int64, out *int8, ldo int)

// depthwise_vnni_amd64.s: the VNNI depthwise convolution.

// dwRowsVNNI computes n >= 1 pixels of a depthwise convolution (AVX-512 BW
// and VNNI), 16 channels a step (the last masked):
//
//	for ox := 0; ox < n; ox++ {
//		for ch := 0; ch < c; ch++ {
//			s := corr[ch]
//			for p := 0; p < pairs; p++ {
//				for h := 0; h < 2; h++ {
//					s += int32(x[ox*step+offs[2*p+h]+ch]) * int32(w16[((ch/16*pairs+p)*16+ch%16)*2+h])
//				}
//			}
//			acc[ox*c+ch] = s
//		}
//	}
//
// sign-extending each tap's 16 bytes to words, interleaving two taps
// (VPERMT2W) and accumulating with VPDPWSSD.
//
//go:noescape
func dwRowsVNNI(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int)

// dwRows3x3RqVNNI is dwRowsVNNI for a 3x3 window (tap t at
// (t/3)*row + (t%3)*c: five pairs, the last one's second weight 0)
// followed by the rqFast output stage of each 16-channel group (p[0],
// p[1], ...), for n >= 1 pixels:
//
//	for ox := 0; ox < n; ox++ {
//		for ch := 0; ch < c; ch++ {
//			s := corr[ch]
//			for t := 0; t < 9; t++ {
//				s += int32(x[ox*step+(t/3)*row+(t%3)*c+ch]) * int32(w16[((ch/16*5+t/2)*16+ch%16)*2+t%2])
//			}
//			out[ox*c+ch] = rqfast(&p[ch/16], ch%16, s) // see dotRqVNNI12x32
//		}
//	}
//
//go:noescape
func dwRows3x3RqVNNI(out *int8, x *int8, w16 *int16, corr *int32, c, row, n, step int, p *colParams, lo, hi int64)

// depthwise_avx2_amd64.s: the AVX2 depthwise convolution.

// dwRowsAVX2 is dwRowsVNNI with AVX2 (VPMADDWD), on weights and
// corrections packed in AVX2 order (within each 16-channel block, channels
// 0-3 and 8-11 first, then 4-7 and 12-15: l = DWWeights.lane(ch%16) on the
// AVX2 path):
//
//	for ox := 0; ox < n; ox++ {
//		for ch := 0; ch < c; ch++ {
//			l := ch&3 | (ch&8)>>1 | (ch&4)<<1
//			s := corr[ch/16*16+l]
//			for p := 0; p < pairs; p++ {
//				for h := 0; h < 2; h++ {
//					s += int32(x[ox*step+offs[2*p+h]+ch]) * int32(w16[((ch/16*pairs+p)*16+l)*2+h])
//				}
//			}
//			acc[ox*c+ch] = s
//		}
//	}
//
// It reads up to 15 bytes past channel c of every tap.
//
//go:noescape
func dwRowsAVX2(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int)

// maxpool_avx512_amd64.s: MaxWindows with AVX-512BW.

// maxWindows512 is MaxWindows' loop (taps >= 1, n >= 1, c >= 1):
//
//	for ox := 0; ox < n; ox++ {
//		for ch := 0; ch < c; ch++ {
//			m := x[ox*step+offs[0]+ch]
//			for t := 1; t < taps; t++ {
//				m = max(m, x[ox*step+offs[t]+ch])
//			}
//			y[ox*c+ch] = m
//		}
//	}
//
//go:noescape
func maxWindows512(y, x *int8, offs *int, taps, n, c, step int)

// add_avx512_amd64.s: AddRows with AVX-512.

// addRescale8 is AddRows' vector loop on n values, n a multiple of 8
// (AVX-512F and DQ), for 1 <= p.Shift <= 62:
//
//	for i := 0; i < n; i++ {
//		s := (int64(a[i])-p.ZpA)*p.MA + (int64(b[i])-p.ZpB)*p.MB // wrapping
//		q := (s + p.half1 + (s>>p.Shift)&1) >> p.Shift // round half to even
//		y[i] = int8(clamp(q+p.ZpOut, p.Lo, p.Hi))
//	}
//
//go:noescape
func addRescale8(y, a, b *int8, n int, p *AddParams)

// addRescale16 is AddRows' 16-lane AVX-512 VNNI loop on n > 0 values (the
// last n%16 under a mask), with the int32 arithmetic of addWords (its doc
// shows that y is addRescale8's).
//
//go:noescape
func addRescale16(y, a, b *int8, n int, w *addWords)

// add_avx2_amd64.s: AddRows with AVX2.

// addRescaleAVX2 is AddRows' AVX2 loop on n values, n a multiple of 8, in
// float64 arithmetic that is exact when p.fExact holds (it must), so that
// y is addRescale8's:
//
//	for i := 0; i < n; i++ {
//		v := (float64(a[i])*p.fMA + p.fC + float64(b[i])*p.fMB) * p.fInv
//		y[i] = int8(min(max(math.RoundToEven(v)+p.fZp, p.fLo), p.fHi))
//	}
//
//go:noescape
func addRescaleAVX2(y, a, b *int8, n int, p *AddParams)

// pack_avx2_amd64.s: PackRow with AVX2.

// xorRow32 converts int8 activations to the kernels' uint8 form with
// AVX2, n a multiple of 32:
//
//	for i := 0; i < n; i++ {
//		dst[i] = uint8(src[i]) ^ 0x80
//	}
//
//go:noescape
func xorRow32(dst *uint8, src *int8, n int)

// pack_avx512_amd64.s: PackSegments with AVX-512.

// xorSegs512 converts count segments of n int8 activations, segment c read
// at src[c*stride:], to the kernels' uint8 form, one after the other in
// dst, with AVX-512BW (masked tails):
//
//	for c := 0; c < count; c++ {
//		for i := 0; i < n; i++ {
//			dst[c*n+i] = uint8(src[c*stride+i]) ^ 0x80
//		}
//	}
//
//go:noescape
func xorSegs512(dst *uint8, src *int8, n, stride, count int)

// im2col_amd64.s: CopyWindows.

// copyWindows moves n im2col rows of kh segments of seg bytes from src (a
// padded, already XORed input) to dst, m bytes at a time (m = 16 for seg
// <= 16, else 32; AVX):
//
//	for r := 0; r < n; r++ {
//		for ky := 0; ky < kh; ky++ {
//			for j := 0; j < seg; j += m {
//				copy(dst[r*lda+ky*seg+j:][:m], src[offs[r]+ky*rowStep+j:][:m])
//			}
//		}
//	}
//
//go:noescape
func copyWindows(dst *uint8, lda int, src *uint8, offs *int, n, kh, seg, rowStep int)

// rows_avx2_amd64.s: MaxRow and MulAddRow with AVX2.

// maxRow32 is MaxRow's AVX2 loop, n a multiple of 32:
//
//	for i := 0; i < n; i++ {
//		dst[i] = max(dst[i], src[i])
//	}
//
//go:noescape
func maxRow32(dst, src *int8, n int)

// mulAdd8 is mulAdd16 with AVX2, n a multiple of 8:
//
//	for i := 0; i < n; i++ {
//		acc[i] += (int32(x[i]) - zp) * int32(w[i]) // wrapping
//	}
//
//go:noescape
func mulAdd8(acc *int32, x, w *int8, n int, zp int32)

// rows_avx512_amd64.s: MulAddRow with AVX-512.

// mulAdd16 is MulAddRow's AVX-512 loop, n a multiple of 16:
//
//	for i := 0; i < n; i++ {
//		acc[i] += (int32(x[i]) - zp) * int32(w[i]) // wrapping
//	}
//
//go:noescape
func mulAdd16(acc *int32, x, w *int8, n int, zp int32)

// peak_vnni_amd64.s: the VNNI peak.

// vnniPeak runs n >= 1 iterations of 24 independent VPDPBUSD on Z
// registers only (3072 integer operations each: 24 x 16 lanes x 4
// multiply-adds), to measure the core's VNNI peak (acc, x and y are
// registers, all zero):
//
//	for i := 0; i < n; i++ {
//		for r := 0; r < 24; r++ {
//			acc[r] = vpdpbusd(acc[r], x, y) // 16 lanes of 4 products each
//		}
//	}
//
//go:noescape
func vnniPeak(n int)

// quantize_avx512_amd64.s: the input quantizer.

// quantizeF32AVX512 is QuantizeFloats's loop for n, a multiple of 16,
// floats (AVX-512F).
//
//go:noescape
func quantizeF32AVX512(q *int8, x *float32, n int, inv, lo, hi float32, zp int32)

// dwpairs_vnni_amd64.s: the pair-row 3x3 depthwise convolution.

// pairRowAVX512 writes n pair-row dwords from the low and high pixels'
// bytes (DWPairs.PairRow):
//
//	dst[i] = int32(uint16(int16(lo[i]-zp))) | (int32(hi[i])-zp) << 16
//
//go:noescape
func pairRowAVX512(dst *int32, lo, hi *int8, n int, zp int32)

// dwPairs3x3RqVNNI computes n output pixels of a 3x3 depthwise
// convolution of c channels from the pair rows r0-r2 (DWPairs.Rows; step
// dwords between output pixels, pair 1 p1 bytes after pair 0), from the
// packed weights w, through the rqFast output stage of the groups at p,
// into out[ox*c+ch]:
//
//	acc := sum over ky, pair of words(r_ky[ox*step+pair*p1/4+ch]) . words(w[block][ky][pair][lane])
//	out[ox*c+ch] = rqfast(p[ch/16], ch%16, acc)
//
//go:noescape
func dwPairs3x3RqVNNI(out *int8, r0, r1, r2 *int32, w *int32, c, n, step int, p *colParams, lo, hi int64, p1 int)

// dwPairs3x3RqVNNIH0 is dwPairs3x3RqVNNI for output groups whose h are
// all 0.
//
//go:noescape
func dwPairs3x3RqVNNIH0(out *int8, r0, r1, r2 *int32, w *int32, c, n, step int, p *colParams, lo, hi int64, p1 int)

// pairRowS2AVX512 writes n positions of a stride-2 pair row (c dwords
// each) from pixels 2j and 2j+1 of x:
//
//	dst[j*c+ch] = int32(uint16(int16(x[2*j*c+ch]-zp))) | (int32(x[2*j*c+c+ch])-zp) << 16
//
//go:noescape
func pairRowS2AVX512(dst *int32, x *int8, n, c int, zp int32)
