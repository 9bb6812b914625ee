package qkernels

import "fmt"

// Row helpers for the int8 ops that are not products: max pooling and
// depthwise convolution keep channels in vector lanes (NHWC rows of C
// values). They use the active path's instructions when the CPU has them.

// MaxRow writes dst[i] = max(dst[i], src[i]); src must be at least as long
// as dst.
func MaxRow(dst, src []int8) {
	n := len(dst)
	src = src[:n]
	i := 0
	if ActivePath() >= AVX2 && n >= 32 {
		i = n &^ 31
		maxRow32(&dst[0], &src[0], i)
	}
	for ; i < n; i++ {
		dst[i] = max(dst[i], src[i])
	}
}

// MulAddRow adds (x[i]-zp)*w[i] to acc[i] in wrapping int32; x and w must
// be at least as long as acc.
func MulAddRow(acc []int32, x, w []int8, zp int32) {
	n := len(acc)
	x, w = x[:n], w[:n]
	i := 0
	switch p := ActivePath(); {
	case p == VNNI && n >= 16:
		i = n &^ 15
		mulAdd16(&acc[0], &x[0], &w[0], i, zp)
	case p == AVX2 && n >= 8:
		i = n &^ 7
		mulAdd8(&acc[0], &x[0], &w[0], i, zp)
	}
	for ; i < n; i++ {
		acc[i] += (int32(x[i]) - zp) * int32(w[i])
	}
}

// Rows runs the output stage on rows of accumulators already holding the
// whole dot product: out[r*ldo+j] = Output(acc[r*ldc+j]) for r < rows and
// j < N (the offset is still added: build the stage with NewChannelOutput
// for accumulators that start from zero).
func (o *Output) Rows(acc []int32, ldc, rows int, out []int8, ldo int) {
	if rows <= 0 {
		return
	}
	if ldc < o.n || ldo < o.n || len(acc) < (rows-1)*ldc+o.n || len(out) < (rows-1)*ldo+o.n {
		panic(fmt.Sprintf("qkernels: Output.Rows: buffers too short for %d rows of %d", rows, o.n))
	}
	j := 0
	switch p := ActivePath(); {
	case p == VNNI && o.vec:
		for ; j < o.n; j += 16 {
			requantVNNI16(&acc[j], ldc, rows, &o.groups[j/16], int64(o.zp), int64(o.lo), int64(o.hi), &out[j], ldo, min(16, o.n-j))
		}
	case p == AVX2 && o.vec2:
		for ; j+8 <= o.n; j += 8 {
			requantAVX2x8(&acc[j], ldc, rows, &o.groups8[j/8], int64(o.zp), int64(o.lo), int64(o.hi), &out[j], ldo)
		}
	}
	for r := 0; r < rows; r++ {
		for jj := j; jj < o.n; jj++ {
			out[r*ldo+jj] = o.finish(jj, acc[r*ldc+jj])
		}
	}
}
