package quantize

import (
	"math"
	"strings"
	"sync"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// Training simulates, inference is bit-exact. In training mode the
// quantized layers compute in float with fake quantization and straight-
// through gradients. In inference mode (Context.Training false) a linked
// Conv2D, DepthwiseConv2D or Dense (wrapped or folded with BN, with a
// quantized kernel and output) computes exactly what the integer engine
// (package lite) computes:
//
//	t      = q_in - zp_in                  (the input's integer codes)
//	acc[c] = round(b[c] / (s_in*s_w[c])) + sum t * q_w[c]
//	q_out  = qmath.Requantize(acc, s_in*s_w[c]/s_out, zp_out, lo, hi)
//	y      = (q_out - zp_out) * s_out
//
// The sum runs through the wrapped layer's own float kernels on integer-
// valued operands, which is exact while every partial sum stays below 2^24
// in magnitude: the bound max|t| * max_c sum|q_w[c]| is checked on each
// batch, and when it fails the kernel is split into q_w = 16*hi + lo and
// run twice. Link (called by Model) tells each such layer which quantizer
// produced its input; a layer that is not linked, or whose bound fails
// even split, computes the float simulation.

// exact holds a linked layer's input quantization and the buffers of its
// bit-exact inference.
type exact struct {
	src source // where the input's codes come from
	oc  int    // output channels (the kernel's last axis)
	run func(x, k *tensor.Tensor) *tensor.Tensor

	xk, wk, wlo, zHi *tensor.Tensor
	bias             []int32
	mult             []qmath.Multiplier
	sum, sumLo       []int64
}

// initialised reports whether a quantizer has recorded a range (a
// quantizer without an "_init" state counts as initialised).
func initialised(q Quantizer) bool {
	for _, p := range q.Params() {
		if strings.HasSuffix(p.Name, "_init") {
			return p.Value.Data[0] != 0
		}
	}
	return true
}

// forward computes the layer's output exactly into *out from its input x,
// its fake-quantized kernel fqk (quantized by wq), its float bias (nil:
// none), the output quantizer oq and the fused activation. It returns nil,
// leaving *out alone, when the exact computation is not possible (then the
// caller computes the float simulation).
func (e *exact) forward(x, fqk *tensor.Tensor, wq Quantizer, bias []float32, oq Quantizer, act string, out **tensor.Tensor) *tensor.Tensor {
	if !wq.Spec().Symmetric || !initialised(oq) || !initialised(wq) {
		return nil
	}
	sIn, zpIn, ok := e.src.params()
	if !ok {
		return nil
	}
	sOut, zpOut, ok := outParams(oq)
	sW, _ := wq.Scales()
	if !ok || (len(sW) != 1 && len(sW) != e.oc) {
		return nil
	}
	sw := func(c int) float32 {
		if len(sW) == 1 {
			return sW[0]
		}
		return sW[c]
	}
	// The input's integer codes.
	// Element loops are split across threads; each element is computed
	// alone and the maximum does not depend on the order.
	xk := tensor.Ensure(&e.xk, x.Shape...)
	aMax := 0.0
	var mu sync.Mutex
	kernels.ParallelFor(len(x.Data), elemGrain, func(lo, hi int) {
		m := 0.0
		for i := lo; i < hi; i++ {
			t := e.src.code(x.Data[i], sIn, zpIn)
			xk.Data[i] = float32(t)
			m = math.Max(m, math.Abs(float64(t)))
		}
		mu.Lock()
		aMax = math.Max(aMax, m)
		mu.Unlock()
	})
	// The kernel's codes and the per-channel constants.
	oc := e.oc
	wk := tensor.Ensure(&e.wk, fqk.Shape...)
	if len(e.sum) != oc {
		e.sum, e.sumLo = make([]int64, oc), make([]int64, oc)
		e.bias, e.mult = make([]int32, oc), make([]qmath.Multiplier, oc)
	}
	clear(e.sum)
	for i, v := range fqk.Data {
		c := i % oc
		q := math.RoundToEven(float64(v) / float64(sw(c)))
		wk.Data[i] = float32(q)
		e.sum[c] += int64(math.Abs(q))
	}
	for c := 0; c < oc; c++ {
		m, err := qmath.NewMultiplier(float64(sIn) * float64(sw(c)) / float64(sOut))
		if err != nil {
			return nil
		}
		e.mult[c] = m
		e.bias[c] = 0
		if bias != nil {
			e.bias[c] = qmath.QuantizeBias(bias[c], sIn, sw(c))
		}
	}
	const exactLimit = 1 << 24
	split := aMax*float64(maxOf(e.sum)) >= exactLimit
	if split {
		wlo := tensor.Ensure(&e.wlo, fqk.Shape...)
		clear(e.sum)
		clear(e.sumLo)
		for i, v := range wk.Data {
			hi := math.Floor(float64(v) / 16)
			lo := float64(v) - 16*hi
			wk.Data[i], wlo.Data[i] = float32(hi), float32(lo)
			e.sum[i%oc] += int64(math.Abs(hi))
			e.sumLo[i%oc] += int64(lo)
		}
		if aMax*float64(maxOf(e.sum)) >= exactLimit || aMax*float64(maxOf(e.sumLo)) >= exactLimit {
			return nil
		}
	}
	z := e.run(xk, wk)
	var zLo []float32
	if split {
		zh := tensor.Ensure(&e.zHi, z.Shape...)
		copy(zh.Data, z.Data)
		zLo = e.run(xk, e.wlo).Data
		z = zh
	}
	// Requantize as the integer engine does.
	lo, hi := actRange(oq, act, sOut, zpOut)
	y := tensor.Ensure(out, z.Shape...)
	kernels.ParallelFor(len(z.Data), elemGrain, func(l, h int) {
		for i := l; i < h; i++ {
			c := i % oc
			acc := int64(z.Data[i])
			if split {
				acc = 16*acc + int64(zLo[i])
			}
			acc += int64(e.bias[c])
			code := qmath.Requantize(qmath.Saturate(acc), e.mult[c], zpOut, lo, hi)
			y.Data[i] = float32(code-zpOut) * sOut
		}
	})
	return y
}

// elemGrain is the smallest share of an element loop worth another thread.
const elemGrain = 1 << 14

// maxOf returns the largest element of s (0 for none).
func maxOf(s []int64) int64 {
	m := int64(0)
	for _, v := range s {
		m = max(m, v)
	}
	return m
}
