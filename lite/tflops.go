package lite

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/qmath"
)

// The element-wise ops, the averages, Concatenation's requantization and
// Quantize in the TFLite rounding modes (docs/DESIGN.md, Numerics: the rounding
// modes). Pure Go; speed is secondary in this mode.

// tflAddLeftShift is the left shift TFLite's reference int8 Add gives its
// inputs before rescaling them, so that their sum keeps 20 fraction bits.
const tflAddLeftShift = 20

// tflAddKernel is Add in a TFLite mode. RoundingTFLite, two inputs:
// XNNPACK's one rounding shift (qmath.FP32AddParams). Otherwise (the
// reference mode, and what TFLite's own kernel computes when XNNPACK
// declines an Add: scale ratios outside [2^-10, 2^8)), with s the largest
// input scale, each input's x - zp shifted left by 20 and rescaled by
// s_i/(2s) (qmath.TFLiteMultiply), the int32 sum rescaled by
// 2s/(2^20 s_out). TFLite's ADD takes two inputs; three or four are summed
// the reference way.
// in k x (N, shape) -> out (N, shape)
type tflAddKernel struct {
	it     *Interpreter
	ins    []int
	out    int
	size   int
	zp     []int32
	fp32   bool
	p      qmath.FP32AddParams
	mIn    []qmath.Multiplier
	mOut   qmath.Multiplier
	zpOut  int32
	lo, hi int32
}

func newTFLAdd(it *Interpreter, op *Op) (*tflAddKernel, error) {
	to := &it.m.Tensors[op.Output]
	k := &tflAddKernel{it: it, ins: op.Inputs, out: op.Output, size: to.Shape.Size(), zpOut: to.ZeroPoint}
	k.lo, k.hi = outRange(to, op.Activation)
	big := float32(0)
	for _, i := range op.Inputs {
		t := &it.m.Tensors[i]
		big = max(big, t.Scale)
		k.zp = append(k.zp, t.ZeroPoint)
	}
	if it.m.Rounding == RoundingTFLite && len(op.Inputs) == 2 {
		ta, tb := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Inputs[1]]
		p, err := qmath.NewFP32AddParams(ta.Scale/to.Scale, tb.Scale/to.Scale)
		if err == nil {
			k.fp32, k.p = true, p
			return k, nil
		}
	}
	twice := 2 * float64(big)
	for _, i := range op.Inputs {
		m, err := qmath.NewTFLiteMultiplier(float64(it.m.Tensors[i].Scale) / twice)
		if err != nil {
			return nil, fmt.Errorf("input multiplier: %w", err)
		}
		k.mIn = append(k.mIn, m)
	}
	var err error
	if k.mOut, err = qmath.NewTFLiteMultiplier(twice / (float64(int64(1)<<tflAddLeftShift) * float64(to.Scale))); err != nil {
		return nil, fmt.Errorf("output multiplier: %w", err)
	}
	return k, nil
}

func (k *tflAddKernel) alloc(int) {}

func (k *tflAddKernel) run(n int) {
	y := k.it.i8[k.out][:n*k.size]
	if k.fp32 {
		a, b := k.it.i8[k.ins[0]], k.it.i8[k.ins[1]]
		for j := range y {
			v := int64(k.p.Apply(int32(a[j]), int32(b[j]), k.zp[0], k.zp[1])) + int64(k.zpOut)
			y[j] = int8(min(max(v, int64(k.lo)), int64(k.hi)))
		}
		return
	}
	for j := range y {
		sum := int32(0)
		for i, in := range k.ins {
			v := (int32(k.it.i8[in][j]) - k.zp[i]) * (1 << tflAddLeftShift)
			sum += qmath.TFLiteMultiply(v, k.mIn[i])
		}
		v := int64(qmath.TFLiteMultiply(sum, k.mOut)) + int64(k.zpOut)
		y[j] = int8(min(max(v, int64(k.lo)), int64(k.hi)))
	}
}

// tflMulKernel is Mul in a TFLite mode: (a - zp_a)*(b - zp_b) rescaled by
// s_a*s_b/s_out (tflRescale), broadcasting as mulKernel.
type tflMulKernel struct {
	*mulKernel
	r tflRescale
}

func newTFLMul(it *Interpreter, op *Op) (*tflMulKernel, error) {
	k, err := newMul(it, op)
	if err != nil {
		return nil, err
	}
	ta, tb, to := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Inputs[1]], &it.m.Tensors[op.Output]
	r, err := newTFLRescale(it.m.Rounding, float64(ta.Scale)*float64(tb.Scale)/float64(to.Scale), float32(ta.Scale*tb.Scale)/to.Scale)
	if err != nil {
		return nil, fmt.Errorf("multiplier: %w", err)
	}
	return &tflMulKernel{mulKernel: k, r: r}, nil
}

func (k *tflMulKernel) run(n int) {
	for s := 0; s < n; s++ {
		xa, xb := k.it.i8[k.a][s*k.sa:(s+1)*k.sa], k.it.i8[k.b][s*k.sb:(s+1)*k.sb]
		y := k.it.i8[k.out][s*k.so : (s+1)*k.so]
		for j := range y {
			ja, jb := j, j
			if k.ia != nil {
				ja = int(k.ia[j])
			}
			if k.ib != nil {
				jb = int(k.ib[j])
			}
			acc := (int32(xa[ja]) - k.zpa) * (int32(xb[jb]) - k.zpb)
			y[j] = k.r.apply(acc, k.zp, k.lo, k.hi)
		}
	}
}

// tflConcatKernel is Concatenation in a TFLite mode: inputs of the
// output's parameters are copied, the others requantized as the 1x1
// DEPTHWISE_CONV_2D of unit weights (scale 1) that export writes for them:
// x - zp_in rescaled by s_in/s_out (tflRescale), plus zp_out, clamped.
type tflConcatKernel struct {
	*concatKernel
	rs []tflRescale
}

func newTFLConcat(it *Interpreter, op *Op) (*tflConcatKernel, error) {
	k, err := newConcat(it, op)
	if err != nil {
		return nil, err
	}
	to := &it.m.Tensors[op.Output]
	rs := make([]tflRescale, len(op.Inputs))
	for j, i := range op.Inputs {
		ti := &it.m.Tensors[i]
		if rs[j], err = newTFLRescale(it.m.Rounding, float64(ti.Scale)/float64(to.Scale), ti.Scale/to.Scale); err != nil {
			return nil, err
		}
	}
	return &tflConcatKernel{concatKernel: k, rs: rs}, nil
}

func (k *tflConcatKernel) run(n int) {
	y := k.it.i8[k.out]
	off := 0
	for j, idx := range k.ins {
		x, w := k.it.i8[idx], k.widths[j]
		for r := 0; r < n*k.outer; r++ {
			src, dst := x[r*w:(r+1)*w], y[r*k.row+off:][:w]
			if k.same[j] {
				copy(dst, src)
				continue
			}
			for i, v := range src {
				dst[i] = k.rs[j].apply(int32(v)-k.zpIn[j], k.zpOut, k.lo, k.hi)
			}
		}
		off += w
	}
}

// tflGlobalAvgPoolKernel is GlobalAveragePool in TFLite's arithmetic: the
// whole-image AVERAGE_POOL_2D export writes, the sum of the codes over
// H*W rounded half away from zero; or, for a MEAN read from a .tflite
// (Op.TFLiteMean) in rounding tflite, XNNPACK's mean: zp +
// round_half_even(float32(sum - H*W*zp) * scale), the scale
// s_in/(s_out*H*W) computed in float32 (not 1/(H*W) although the scales
// are equal: measured), input and output sharing their zero point.
// in (N,H,W,C) -> out (N,C)
type tflGlobalAvgPoolKernel struct {
	it      *Interpreter
	in, out int
	hw, c   int
	mean    bool
	zp      int64
	inv     float32
	acc     []int32
}

func newTFLGlobalAvgPool(it *Interpreter, op *Op) *tflGlobalAvgPoolKernel {
	t := &it.m.Tensors[op.Inputs[0]]
	s := t.Shape
	return &tflGlobalAvgPoolKernel{it: it, in: op.Inputs[0], out: op.Output, hw: s[0] * s[1], c: s[2], acc: make([]int32, s[2]),
		mean: op.TFLiteMean && it.m.Rounding == RoundingTFLite, zp: int64(t.ZeroPoint),
		inv: t.Scale / float32(it.m.Tensors[op.Output].Scale*float32(s[0]*s[1]))}
}

func (k *tflGlobalAvgPoolKernel) alloc(int) {}

func (k *tflGlobalAvgPoolKernel) run(n int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	for b := 0; b < n; b++ {
		clear(k.acc)
		for p := 0; p < k.hw; p++ {
			for c, v := range x[(b*k.hw+p)*k.c:][:k.c] {
				k.acc[c] += int32(v)
			}
		}
		for c, s := range k.acc {
			if k.mean {
				v := k.zp + int64(qmath.RequantizeFP32(int32(int64(s)-int64(k.hw)*k.zp), k.inv))
				y[b*k.c+c] = int8(min(max(v, -128), 127))
				continue
			}
			y[b*k.c+c] = int8(qmath.DivRoundAway(int64(s), int64(k.hw)))
		}
	}
}

// tflQuantizeKernel is Quantize in TFLite's reference arithmetic:
// round(x/scale) in float32, half away from zero, plus the zero point,
// clamped (NaN maps to the zero point, as in the default mode).
type tflQuantizeKernel struct {
	*quantizeKernel
}

func (k *tflQuantizeKernel) run(n int) {
	t := &k.it.m.Tensors[k.out]
	qmin, qmax := t.QRange()
	x, y := k.it.f32[k.in][:n*k.size], k.it.i8[k.out]
	for i, v := range x {
		q := math.Round(float64(v / t.Scale))
		switch {
		case q != q:
			q = 0
		case q > 1<<31:
			q = 1 << 31
		case q < -(1 << 31):
			q = -(1 << 31)
		}
		y[i] = int8(min(max(int64(q)+int64(t.ZeroPoint), int64(qmin)), int64(qmax)))
	}
}
