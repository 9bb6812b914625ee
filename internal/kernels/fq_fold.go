package kernels

import (
	"fmt"
	"math"
	"sync/atomic"
)

// The element-wise and per-channel passes of a folded convolution +
// batch normalization + activation + output fake quant during
// quantization-aware training (quantize.FoldedConvBN), over a (rows, cols)
// matrix z whose columns are the channels: the inner convolution's output.
// Each pass recomputes, per element, the whole chain
//
//	u = z*Inv[j] + Bias[j]                       (the unfolded conv output)
//	a = Act((u-Center[j])*Scale[j] + Beta[j])    (BN, then ReLU / ReLU6)
//	out = fakequant(a)                           (if Quant)
//
// from z instead of reading intermediate tensors, so that a training step
// reads z twice forward (statistics, output) and twice backward (gradient
// sums, input gradient) and writes nothing but the output and the input
// gradient. As in bn.go, reductions run down the rows in row order, one
// float64 sum per channel (a SIMD path adds a vector of channels per step:
// the same additions per channel), the element-wise expressions are
// evaluated in the order written, without fused multiply-adds, and the
// channels in whole blocks of 16 go through AVX-512F assembly when the
// AVX512 path is active, the rest through the Go loops, which are the
// specification and the only code under -tags noasm. None of these
// functions splits work across threads.

// FoldParams is the per-channel chain of the folded passes (see above).
// Inv, Bias, Center, Scale and Beta hold at least cols values; a Bias of
// -0 adds nothing (x + -0 is x for every x, -0 included), which is how a
// layer without bias computes u = z*Inv.
//
// With Quant, out = round(clamp(a*QInv, QLo, QHi))*QScale, the round half
// to even done as (t + 1.5*2^23) - 1.5*2^23 (exact for the small integer
// range QLo..QHi), and the clamp as "if t < QLo { t = QLo }; if t > QHi {
// t = QHi }" (a NaN stays NaN): quantize's fake quant bit for bit. The
// backward passes pass the gradient where the activation does (ReLU: a >
// 0; ReLU6: a > 0 and a < 6; NaN: never) and, with Quant, where t = a*QInv
// is inside [QLo, QHi] (neither t < QLo nor t > QHi); elsewhere it is +0.
type FoldParams struct {
	Inv, Bias           []float32
	Center, Scale, Beta []float32
	Act                 Act
	Quant               bool
	QScale, QInv        float32
	QLo, QHi            float32
}

// foldRoundMagic is 1.5*2^23 (see FoldParams).
const foldRoundMagic = 12582912

// fqCalls counts, per path, the calls of the folded passes that ran that
// path's code (for the test that fails if a path the CPU supports was not
// exercised).
var fqCalls [numPaths]atomic.Int64

// fqSIMDCols returns how many leading columns the active path computes
// with assembly (a multiple of 16, 0 without AVX-512) and counts the call.
func fqSIMDCols(cols int) int {
	if ActivePath() == AVX512 && cols >= 16 {
		fqCalls[AVX512].Add(1)
		return cols &^ 15
	}
	fqCalls[Generic].Add(1)
	return 0
}

// checkFold panics unless each matrix holds rows x cols values and each
// vector (p's Center, Scale and Beta unless p is nil, and the others)
// cols values: the assembly relies on it.
func checkFold(rows, cols int, p *FoldParams, mats [][]float32, vecs32 [][]float32, vecs64 [][]float64) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: folded pass with rows=%d cols=%d", rows, cols))
	}
	for _, m := range mats {
		if len(m) < rows*cols {
			panic(fmt.Sprintf("kernels: folded pass: matrix of %d values, want %dx%d", len(m), rows, cols))
		}
	}
	if p != nil {
		for _, v := range [...][]float32{p.Center, p.Scale, p.Beta} {
			if len(v) < cols {
				panic(fmt.Sprintf("kernels: folded pass: parameter vector of %d values, want %d", len(v), cols))
			}
		}
	}
	for _, v := range vecs32 {
		if len(v) < cols {
			panic(fmt.Sprintf("kernels: folded pass: vector of %d values, want %d", len(v), cols))
		}
	}
	for _, v := range vecs64 {
		if len(v) < cols {
			panic(fmt.Sprintf("kernels: folded pass: vector of %d values, want %d", len(v), cols))
		}
	}
}

// quantConsts returns p's fake quant constants as the assembly reads them.
func (p *FoldParams) quantConsts() [4]float32 {
	return [4]float32{p.QScale, p.QInv, p.QLo, p.QHi}
}

// flag returns the assembly's mode word: the activation in bits 0-1,
// Quant in bit 2.
func (p *FoldParams) flag() int {
	f := int(p.Act) & 3
	if p.Quant {
		f |= 4
	}
	return f
}

// unfold1 is u for one value of channel j.
func (p *FoldParams) unfold1(v float32, j int) float32 { return v*p.Inv[j] + p.Bias[j] }

// act1 is a for one value u of channel j: kernels.NormAct's expression.
func (p *FoldParams) act1(u float32, j int) float32 {
	return normAct1(u, p.Center[j], p.Scale[j], p.Beta[j], p.Act)
}

// quant1 is the fake quant of a.
func (p *FoldParams) quant1(a float32) float32 {
	t := a * p.QInv
	if t < p.QLo {
		t = p.QLo
	}
	if t > p.QHi {
		t = p.QHi
	}
	return ((t + foldRoundMagic) - foldRoundMagic) * p.QScale
}

// mask1 is dy where the activation at a and (Quant) the fake quant's range
// pass the gradient, +0 elsewhere.
func (p *FoldParams) mask1(dy, a float32) float32 {
	if p.Act != ActLinear && !(a > 0) {
		return 0
	}
	if p.Act == ActReLU6 && !(a < 6) {
		return 0
	}
	if p.Quant {
		t := a * p.QInv
		if t < p.QLo || t > p.QHi {
			return 0
		}
	}
	return dy
}

// FoldStats sets, for each channel j < cols, s[j] and q[j] to the sums
// over the rows, in row order and in float64, of d = float64(u) - shift[j]
// and of d*d, and lo[j] and hi[j] to the smallest and largest u (NaNs
// ignored; +Inf and -Inf if the channel holds no number), where u =
// z[r*cols+j]*p.Inv[j] + p.Bias[j]: the batch statistics of the unfolded
// convolution output, without writing it. z is (rows, cols); only p.Inv
// and p.Bias are read.
func FoldStats(z []float32, rows, cols int, p FoldParams, shift, s, q []float64, lo, hi []float32) {
	checkFold(rows, cols, nil, [][]float32{z}, [][]float32{p.Inv, p.Bias, lo, hi}, [][]float64{shift, s, q})
	clear(s[:cols])
	clear(q[:cols])
	for j := range lo[:cols] {
		lo[j], hi[j] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	if rows == 0 || cols == 0 {
		return
	}
	cv := fqSIMDCols(cols)
	if cv > 0 {
		f64FoldStatsAVX512(&z[0], rows, cols, cv, &p.Inv[0], &p.Bias[0], &shift[0], &s[0], &q[0], &lo[0], &hi[0])
	}
	if cv < cols {
		foldStatsGo(z, rows, cols, cv, &p, shift, s, q, lo, hi)
	}
}

// foldStatsGo is FoldStats' loop over channels [j0, cols).
func foldStatsGo(z []float32, rows, cols, j0 int, p *FoldParams, shift, s, q []float64, lo, hi []float32) {
	for r := 0; r < rows; r++ {
		row := z[r*cols : (r+1)*cols]
		for j := j0; j < cols; j++ {
			u := p.unfold1(row[j], j)
			d := float64(u) - shift[j]
			s[j] += d
			q[j] += d * d
			if u < lo[j] {
				lo[j] = u
			}
			if u > hi[j] {
				hi[j] = u
			}
		}
	}
}

// FoldForward writes out = a, or fakequant(a) with p.Quant, for z and out
// (rows, cols) (see FoldParams). out may be z.
func FoldForward(z, out []float32, rows, cols int, p FoldParams) {
	checkFold(rows, cols, &p, [][]float32{z, out}, [][]float32{p.Inv, p.Bias}, nil)
	if rows == 0 || cols == 0 {
		return
	}
	cv := fqSIMDCols(cols)
	if cv > 0 {
		qc := p.quantConsts()
		f32FoldForwardAVX512(&z[0], &out[0], rows, cols, cv, &p.Inv[0], &p.Bias[0], &p.Center[0], &p.Scale[0], &p.Beta[0], &qc, p.flag())
	}
	if cv < cols {
		foldForwardGo(z, out, rows, cols, cv, &p)
	}
}

// foldForwardGo is FoldForward's loop over channels [j0, cols).
func foldForwardGo(z, out []float32, rows, cols, j0 int, p *FoldParams) {
	for r := 0; r < rows; r++ {
		zr, or := z[r*cols:(r+1)*cols], out[r*cols:(r+1)*cols]
		for j := j0; j < cols; j++ {
			a := p.act1(p.unfold1(zr[j], j), j)
			if p.Quant {
				a = p.quant1(a)
			}
			or[j] = a
		}
	}
}

// FoldGradSums sets, for each channel j < cols, s[j] and q[j] to the sums
// over the rows, in row order and in float64, of g and of
// g*(float64(u) - center[j]), where g is dy[r*cols+j] masked by the
// activation and the fake quant range at a (see FoldParams) and u and a
// are recomputed from z: what BatchNormalization's gradient sums compute
// over u when given the masked gradient. z and dy are (rows, cols).
func FoldGradSums(z, dy []float32, rows, cols int, p FoldParams, center, s, q []float64) {
	checkFold(rows, cols, &p, [][]float32{z, dy}, [][]float32{p.Inv, p.Bias}, [][]float64{center, s, q})
	clear(s[:cols])
	clear(q[:cols])
	if rows == 0 || cols == 0 {
		return
	}
	cv := fqSIMDCols(cols)
	if cv > 0 {
		qc := p.quantConsts()
		f64FoldGradSumsAVX512(&z[0], &dy[0], rows, cols, cv, &p.Inv[0], &p.Bias[0], &p.Center[0], &p.Scale[0], &p.Beta[0], &qc, p.flag(), &center[0], &s[0], &q[0])
	}
	if cv < cols {
		foldGradSumsGo(z, dy, rows, cols, cv, &p, center, s, q)
	}
}

// foldGradSumsGo is FoldGradSums' loop over channels [j0, cols).
func foldGradSumsGo(z, dy []float32, rows, cols, j0 int, p *FoldParams, center, s, q []float64) {
	for r := 0; r < rows; r++ {
		zr, dr := z[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols]
		for j := j0; j < cols; j++ {
			u := p.unfold1(zr[j], j)
			g := float64(p.mask1(dr[j], p.act1(u, j)))
			s[j] += g
			q[j] += g * (float64(u) - center[j])
		}
	}
}

// FoldGrad writes the gradient with respect to z, for z, dy and dz (rows,
// cols), and sets s1[j] and s2[j] (j < cols) to the sums over the rows, in
// row order and in float64, of du and of du*float64(z[r*cols+j]), where g
// is dy masked as in FoldGradSums and
//
//	du = k1[j]*g + k2[j]*(u-p.Center[j]) + k3[j]   (left to right)
//	dz[r*cols+j] = du*p.Inv[j]
//
// the batch normalization's input gradient, then the unfolding's. With
// k1, k2 and k3 nil (frozen statistics: no normalization to go through),
// du = g and dz = g. dz may be dy.
func FoldGrad(z, dy, dz []float32, rows, cols int, p FoldParams, k1, k2, k3 []float32, s1, s2 []float64) {
	ks := [][]float32{p.Inv, p.Bias}
	if k1 != nil {
		ks = [][]float32{p.Inv, p.Bias, k1, k2, k3}
	}
	checkFold(rows, cols, &p, [][]float32{z, dy, dz}, ks, [][]float64{s1, s2})
	clear(s1[:cols])
	clear(s2[:cols])
	if rows == 0 || cols == 0 {
		return
	}
	cv := fqSIMDCols(cols)
	if cv > 0 {
		qc := p.quantConsts()
		flag := p.flag()
		pk1, pk2, pk3 := &z[0], &z[0], &z[0] // not read when frozen
		if k1 != nil {
			pk1, pk2, pk3 = &k1[0], &k2[0], &k3[0]
		} else {
			flag |= 8
		}
		f32FoldGradAVX512(&z[0], &dy[0], &dz[0], rows, cols, cv, &p.Inv[0], &p.Bias[0], &p.Center[0], &p.Scale[0], &p.Beta[0], &qc, flag, pk1, pk2, pk3, &s1[0], &s2[0])
	}
	if cv < cols {
		foldGradGo(z, dy, dz, rows, cols, cv, &p, k1, k2, k3, s1, s2)
	}
}

// foldGradGo is FoldGrad's loop over channels [j0, cols).
func foldGradGo(z, dy, dz []float32, rows, cols, j0 int, p *FoldParams, k1, k2, k3 []float32, s1, s2 []float64) {
	for r := 0; r < rows; r++ {
		zr, dr, or := z[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dz[r*cols:(r+1)*cols]
		for j := j0; j < cols; j++ {
			v := zr[j]
			u := p.unfold1(v, j)
			g := p.mask1(dr[j], p.act1(u, j))
			if k1 != nil {
				g = k1[j]*g + k2[j]*(u-p.Center[j]) + k3[j]
				or[j] = g * p.Inv[j]
			} else {
				or[j] = g
			}
			s1[j] += float64(g)
			s2[j] += float64(g) * float64(v)
		}
	}
}
