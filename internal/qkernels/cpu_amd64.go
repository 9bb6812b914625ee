//go:build amd64 && !noasm

package qkernels

import "golang.org/x/sys/cpu"

// CPU features the assembly paths need (x/sys/cpu also checks that the OS
// saves the Y and Z register state).
var (
	hasAVX2 = cpu.X86.HasAVX2
	hasVNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
)

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
//go:noescape
func requantVNNI16(c *int32, ldc, rows int, p *colParams, zp, lo, hi int64, out *int8, ldo, cols int)

// xorRow32 writes dst[i] = src[i] XOR 0x80 for i < n, n a multiple of 32,
// with AVX2.
//
//go:noescape
func xorRow32(dst *uint8, src *int8, n int)

// maxRow32 writes dst[i] = max(dst[i], src[i]) for i < n, n a multiple of
// 32, with AVX2.
//
//go:noescape
func maxRow32(dst, src *int8, n int)

// mulAdd16 adds (x[i]-zp)*w[i] to acc[i] for i < n, n a multiple of 16,
// with AVX-512.
//
//go:noescape
func mulAdd16(acc *int32, x, w *int8, n int, zp int32)

// vnniPeak runs n iterations of 24 independent VPDPBUSD on Z registers
// (3072 integer operations each: 24 x 16 lanes x 4 multiply-adds), to
// measure the core's VNNI peak.
//
//go:noescape
func vnniPeak(n int)

// requantAVX2x8 is the AVX2 output stage on rows of 8 accumulators (stride
// ldc) into int8 rows (stride ldo), with the constants of those 8 columns
// (shifts at most 61): the same integers as requantVNNI16, with the
// arithmetic shift done as a logical one on p + 2^62 (which is then
// subtracted as 2^(62-shift)) and 64-bit clamps by compare and blend.
//
//go:noescape
func requantAVX2x8(c *int32, ldc, rows int, p *colParams8, zp, lo, hi int64, out *int8, ldo int)

// xorSegs512 writes count segments of n bytes, dst[c*n+i] = src[c*stride+i]
// XOR 0x80, with AVX-512BW (masked tails).
//
//go:noescape
func xorSegs512(dst *uint8, src *int8, n, stride, count int)

// addRescale8 is AddRows' vector loop on n values, n a multiple of 8
// (AVX-512F and DQ).
//
//go:noescape
func addRescale8(y, a, b *int8, n int, p *AddParams)

var hasDQ = cpu.X86.HasAVX512DQ

// mulAdd8 is mulAdd16 with AVX2, n a multiple of 8.
//
//go:noescape
func mulAdd8(acc *int32, x, w *int8, n int, zp int32)

// dwRowsVNNI computes n pixels of a depthwise convolution (AVX-512 BW and
// VNNI), 16 channels a step (the last masked):
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

// dwRowsAVX2 is dwRowsVNNI with AVX2 (VPMADDWD), on weights and
// corrections packed in AVX2 order (within each 16-channel block, channels
// 0-3 and 8-11 first, then 4-7 and 12-15); it reads up to 15 bytes past
// channel c of every tap.
//
//go:noescape
func dwRowsAVX2(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int)

// addRescaleAVX2 is AddRows' AVX2 loop on n values, n a multiple of 8, in
// exact float64 arithmetic (p.fExact must hold).
//
//go:noescape
func addRescaleAVX2(y, a, b *int8, n int, p *AddParams)

// dotRqVNNI12x32 is dotVNNI12x32 followed by the rqFast output stage of
// its two 16-column groups (p0 for columns 0-15, p1 for 16-31; both in
// rqFast mode; p1 may be p0 when cols <= 16) on the accumulators while
// they are in registers: for i < rows and j < cols,
//
//	out[i*ldo+j] = clamp((hi32((c[i][j] + offset[j]) * m0[j]) + r[j]) >> u[j], lo, hi)
//
// with c the tile dotVNNI12x32 computes. No int32 tile is stored.
//
//go:noescape
func dotRqVNNI12x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// dotRqVNNI12x16 is dotRqVNNI12x32 for a panel with cols <= 16: the
// products of the panel's first 16 columns only, and p0's output stage.
//
//go:noescape
func dotRqVNNI12x16(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int)

// dwRows3x3RqVNNI is dwRowsVNNI for a 3x3 window (tap t at
// (t/3)*row + (t%3)*c, five pairs) followed by the rqFast output stage of
// each 16-channel group (p[0], p[1], ...): out[ox*c+ch] gets the int8
// result of pixel ox, channel ch.
//
//go:noescape
func dwRows3x3RqVNNI(out *int8, x *int8, w16 *int16, corr *int32, c, row, n, step int, p *colParams, lo, hi int64)

// copyWindows moves n im2col rows of kh segments of seg bytes from src (a
// padded, already XORed input) to dst, 8 bytes at a time:
//
//	for r := 0; r < n; r++ {
//		for ky := 0; ky < kh; ky++ {
//			for j := 0; j < seg; j += 8 {
//				copy(dst[r*lda+ky*seg+j:][:8], src[offs[r]+ky*rowStep+j:][:8])
//			}
//		}
//	}
//
//go:noescape
func copyWindows(dst *uint8, lda int, src *uint8, offs *int, n, kh, seg, rowStep int)
