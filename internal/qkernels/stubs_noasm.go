//go:build !amd64 || noasm

package qkernels

// Without assembly only the Generic path exists: the callers run their Go
// loops, and the assembly routines of stubs_amd64.go (in its order) are
// never called; these stand-ins exist so that the package compiles.
const (
	hasAVX2 = false
	hasVNNI = false
	hasDQ   = false
)

func dotVNNI12x32(a *uint8, lda int, b *int8, kq int, c *int32) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x16(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotAVX2x4x16(a *uint8, lda int, b *int16, kq int, c *int32) {
	panic("qkernels: AVX2 path not built")
}

func requantVNNI16(c *int32, ldc, rows int, p *colParams, zp, lo, hi int64, out *int8, ldo, cols int) {
	panic("qkernels: VNNI path not built")
}

func requantAVX2x8(c *int32, ldc, rows int, p *colParams8, zp, lo, hi int64, out *int8, ldo int) {
	panic("qkernels: AVX2 path not built")
}

func dwRowsVNNI(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int) {
	panic("qkernels: VNNI path not built")
}

func dwRows3x3RqVNNI(out *int8, x *int8, w16 *int16, corr *int32, c, row, n, step int, p *colParams, lo, hi int64) {
	panic("qkernels: VNNI path not built")
}

func dwRowsAVX2(acc *int32, x *int8, w16 *int16, corr *int32, c, pairs int, offs *int, n, step int) {
	panic("qkernels: AVX2 path not built")
}

func addRescale8(y, a, b *int8, n int, p *AddParams) { panic("qkernels: VNNI path not built") }

func addRescale16(y, a, b *int8, n int, w *addWords) { panic("qkernels: VNNI path not built") }

func addRescaleAVX2(y, a, b *int8, n int, p *AddParams) { panic("qkernels: AVX2 path not built") }

func xorRow32(dst *uint8, src *int8, n int) { panic("qkernels: AVX2 path not built") }

func xorSegs512(dst *uint8, src *int8, n, stride, count int) { panic("qkernels: VNNI path not built") }

func copyWindows(dst *uint8, lda int, src *uint8, offs *int, n, kh, seg, rowStep int) {
	panic("qkernels: assembly not built")
}

func maxRow32(dst, src *int8, n int) { panic("qkernels: AVX2 path not built") }

func mulAdd8(acc *int32, x, w *int8, n int, zp int32) { panic("qkernels: AVX2 path not built") }

func mulAdd16(acc *int32, x, w *int8, n int, zp int32) { panic("qkernels: VNNI path not built") }

func dotRqVNNIDirect12x32(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int) {
	panic("qkernels: VNNI path not built")
}

func maxWindows512(y, x *int8, offs *int, taps, n, c, step int) {
	panic("qkernels: VNNI path not built")
}

func quantizeF32AVX512(q *int8, x *float32, n int, inv, lo, hi float32, zp int32) {
	panic("qkernels: VNNI path not built")
}

func pairRowAVX512(dst *int32, lo, hi *int8, n int, zp int32) {
	panic("qkernels: VNNI path not built")
}

func dwPairs3x3RqVNNI(out *int8, r0, r1, r2 *int32, w *int32, c, n, step int, p *colParams, lo, hi int64, p1 int) {
	panic("qkernels: VNNI path not built")
}

func vnniPeak(n int) { panic("qkernels: VNNI path not built") }

func dotRqVNNI12x32H0(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x16H0(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNIDirect12x32H0(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int) {
	panic("qkernels: VNNI path not built")
}

func dwPairs3x3RqVNNIH0(out *int8, r0, r1, r2 *int32, w *int32, c, n, step int, p *colParams, lo, hi int64, p1 int) {
	panic("qkernels: VNNI path not built")
}

func pairRowS2AVX512(dst *int32, x *int8, n, c int, zp int32) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x32F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x32H0F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x16F(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI12x16H0F(a *uint8, lda int, b *int8, kq int, p0 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNIDirect12x32F(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNIDirect12x32H0F(a *uint8, lda int, b *int8, segq, segs, segSkip int, p0, p1 *colParams, lo, hi int64, outs *[MR]int, out *int8, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI4x32(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI4x32H0(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI4x32F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}

func dotRqVNNI4x32H0F(a *uint8, lda int, b *int8, kq int, p0, p1 *colParams, lo, hi int64, out *int8, ldo, rows, cols int) {
	panic("qkernels: VNNI path not built")
}
