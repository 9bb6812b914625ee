package lite

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/qmath"
)

// The integer LSTM (docs/lstm.md; TFLite's "8x8_16" scheme): int8 input
// x (scale sx, zero point zx) and output h (sh, zh), int8 weights per
// output unit of each gate (symmetric narrow), gates in Keras's order i,
// f, c, o along the weights' last axis. Per step, for gate column j:
//
//	px[j] = sat16(round(( sum_f (x_f - zx) W[f,j] + b[j] ) * sx sw[j] / 2^-12))
//	pr[j] = sat16(round(( sum_u (h_u - zh) R[u,j] ) * sh sr[j] / 2^-12))
//	z[j]  = sat16(px[j] + pr[j])                          Q3.12
//	i, f, o = Sigmoid16(z), g = Tanh16(z)                  Q0.15
//	c'    = sat16(round(f c / 2^15) + round(i g / 2^(30+E)))  scale 2^E
//	tc    = Tanh16(sat16(c' * 2^(12+E)))                  Q0.15
//	h'    = clamp(round(o tc * 2^-30 / sh) + zh)          int8
//
// every round half to even (qmath.RoundShift, qmath.Multiplier), the
// accumulators int32, b the int32 bias at scale sx sw[j], E the cell
// state's power-of-two exponent (Op.CellExponent, -12..0), h and c zero
// (h = zh) before the first step. The recurrent input is the previous
// output's codes. The weights are one (F+U, 4U) matrix: the kernel's F
// rows, then the recurrent kernel's U rows; WeightScales holds the
// kernel's 4U scales, then the recurrent kernel's 4U.

// Cell exponent bounds: the cell state's scale is 2^E with E in
// [MinCellExponent, MaxCellExponent] (range [-8, 8) to [-32768, 32768)),
// so that the tanh input c * 2^(12+E) is a left shift.
const (
	MinCellExponent = -12
	MaxCellExponent = 0
)

// Q formats of the gate arithmetic.
const (
	// GateFracBits is the fraction bits of the gate pre-activations
	// (Q3.12, int16).
	GateFracBits = 12
	// ActFracBits is the fraction bits of the gate activations and of
	// tanh of the cell (Q0.15, int16).
	ActFracBits = 15
)

var lstmTables struct {
	once         sync.Once
	sigmoid, tan [1 << 16]int16
}

// int16Tables builds the tables of Sigmoid16 and Tanh16 once.
func int16Tables() {
	lstmTables.once.Do(func() {
		in := float32(math.Ldexp(1, -GateFracBits))
		out := float32(math.Ldexp(1, -ActFracBits))
		for q := -32768; q < 32768; q++ {
			x := float64(in) * float64(q)
			lstmTables.sigmoid[q+32768] = int16(qmath.QuantizeValue(float32(qmath.Sigmoid(x)), out, 0, -32768, 32767))
			lstmTables.tan[q+32768] = int16(qmath.QuantizeValue(float32(math.Tanh(x)), out, 0, -32768, 32767))
		}
	})
}

// Sigmoid16 is the integer LSTM's sigmoid: a Q3.12 code in, the Q0.15 code
// of the sigmoid of its value out, rounded half to even from the float64
// function (a table of every int16 input, built once).
func Sigmoid16(z int16) int16 {
	int16Tables()
	return lstmTables.sigmoid[int(z)+32768]
}

// Tanh16 is Sigmoid16 for tanh (outputs clamped to [-32768, 32767]).
func Tanh16(z int16) int16 {
	int16Tables()
	return lstmTables.tan[int(z)+32768]
}

// sat16 clamps v to the int16 range.
func sat16(v int64) int16 {
	return int16(min(max(v, math.MinInt16), math.MaxInt16))
}

// LSTMCell computes one step of the integer LSTM on one sample's gate
// pre-activations z (4U, Q3.12: i, f, c, o blocks), updating the cell
// state c (U, scale 2^e) in place and returning in h (U) the output codes,
// requantized with mh (2^-30 / sh), zero point zh and clamp [lo, hi]. The
// runtime and the QAT model's inference both call it.
func LSTMCell(z []int16, c []int16, h []int8, e int, mh qmath.Multiplier, zh, lo, hi int32) {
	int16Tables()
	u := len(c)
	z = z[:4*u]
	h = h[:u]
	sig, tnh := &lstmTables.sigmoid, &lstmTables.tan
	igShift := uint(30 + e)
	tShift := uint(GateFracBits + e)
	for j := 0; j < u; j++ {
		i := int64(sig[int(z[j])+32768])
		f := int64(sig[int(z[u+j])+32768])
		g := int64(tnh[int(z[2*u+j])+32768])
		o := int64(sig[int(z[3*u+j])+32768])
		cv := sat16(qmath.RoundShift(f*int64(c[j]), ActFracBits) + qmath.RoundShift(i*g, igShift))
		c[j] = cv
		tc := int64(tnh[int(sat16(int64(cv)<<tShift))+32768])
		h[j] = int8(qmath.Requantize(int32(o*tc), mh, zh, lo, hi))
	}
}

// LSTMParams holds an integer LSTM's constants, computed from its op and
// tensors: the per-column multipliers of the two products and the
// output's.
type LSTMParams struct {
	// T, F and U are the steps, the input features and the units.
	T, F, U int
	// Zx and Zh are the input's and the output's zero points; Lo and Hi
	// the output's code range.
	Zx, Zh, Lo, Hi int32
	// Mx and Mr (4U each) rescale the input and recurrent products to
	// Q3.12; Mh rescales o*tanh(c) (Q0.30) to the output's scale.
	Mx, Mr []qmath.Multiplier
	Mh     qmath.Multiplier
	// E is the cell state's exponent (scale 2^E).
	E int
	// W (F, 4U) and R (U, 4U) are the kernels; Bias (4U) the int32 bias.
	W, R []int8
	Bias []int32
	// ReturnSeq and Backwards are the op's ReturnSequences and
	// GoBackwards.
	ReturnSeq, Backwards bool
}

// NewLSTMParams computes the constants of op (an OpLSTM of a valid
// model) with input tensor in and output tensor out.
func NewLSTMParams(op *Op, in, out *Tensor) (*LSTMParams, error) {
	t, f := in.Shape[0], in.Shape[1]
	gu := op.WeightShape[1]
	u := gu / 4
	p := &LSTMParams{T: t, F: f, U: u, Zx: in.ZeroPoint, Zh: out.ZeroPoint, E: op.CellExponent,
		W: op.Weights[:f*gu], R: op.Weights[f*gu:], ReturnSeq: op.ReturnSequences, Backwards: op.GoBackwards}
	p.Lo, p.Hi = out.QRange()
	p.Bias = op.Bias
	if p.Bias == nil {
		p.Bias = make([]int32, gu)
	}
	p.Mx = make([]qmath.Multiplier, gu)
	p.Mr = make([]qmath.Multiplier, gu)
	gate := math.Ldexp(1, GateFracBits)
	for j := 0; j < gu; j++ {
		var err error
		if p.Mx[j], err = qmath.NewMultiplier(float64(in.Scale) * float64(op.WeightScales[j]) * gate); err != nil {
			return nil, fmt.Errorf("input gate column %d: %w", j, err)
		}
		if p.Mr[j], err = qmath.NewMultiplier(float64(out.Scale) * float64(op.WeightScales[gu+j]) * gate); err != nil {
			return nil, fmt.Errorf("recurrent gate column %d: %w", j, err)
		}
	}
	var err error
	if p.Mh, err = qmath.NewMultiplier(math.Ldexp(1, -2*ActFracBits) / float64(out.Scale)); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return p, nil
}

// checkLSTM checks an LSTM op's attributes, weights and shapes; other
// ops must not carry LSTM attributes.
func checkLSTM(op *Op, in, out *Tensor) error {
	if op.Type != OpLSTM {
		if op.CellExponent != 0 || op.ReturnSequences || op.GoBackwards {
			return errors.New("LSTM attributes on an op that takes none")
		}
		return nil
	}
	if op.Activation != "" {
		return fmt.Errorf("fused activation %q on an LSTM", op.Activation)
	}
	if len(in.Shape) != 2 {
		return fmt.Errorf("input shape %v, want (steps, features)", in.Shape)
	}
	if op.WeightBits < 2 || op.WeightBits > 8 {
		return fmt.Errorf("%d weight bits (want 2..8)", op.WeightBits)
	}
	ws := op.WeightShape
	if len(ws) != 2 {
		return fmt.Errorf("weight shape %v, want (features+units, 4*units)", ws)
	}
	if _, err := bounds.Values(ws); err != nil {
		return fmt.Errorf("weight %w", err)
	}
	t, f := in.Shape[0], in.Shape[1]
	if ws[1]%4 != 0 || ws[1] == 0 || ws[0] != f+ws[1]/4 {
		return fmt.Errorf("weight shape %v does not fit %d features and %d gate columns", ws, f, ws[1])
	}
	u := ws[1] / 4
	if len(op.Weights) != ws.Size() {
		return fmt.Errorf("%d weights for shape %v", len(op.Weights), ws)
	}
	if len(op.WeightScales) != 2*ws[1] {
		return fmt.Errorf("%d weight scales, want %d (kernel, then recurrent kernel)", len(op.WeightScales), 2*ws[1])
	}
	for _, s := range op.WeightScales {
		if !(s > 0) || math.IsInf(float64(s), 0) || s < 1e-30 {
			return fmt.Errorf("weight scale %v must be positive and finite", s)
		}
	}
	lim := int8(1<<(op.WeightBits-1) - 1)
	for _, w := range op.Weights {
		if w < -lim || w > lim {
			return fmt.Errorf("weight %d outside the %d-bit narrow range [%d, %d]", w, op.WeightBits, -lim, lim)
		}
	}
	if op.Bias != nil && len(op.Bias) != ws[1] {
		return fmt.Errorf("%d biases for %d gate columns", len(op.Bias), ws[1])
	}
	if op.CellExponent < MinCellExponent || op.CellExponent > MaxCellExponent {
		return fmt.Errorf("cell exponent %d outside [%d, %d]", op.CellExponent, MinCellExponent, MaxCellExponent)
	}
	want := []int{u}
	if op.ReturnSequences {
		want = []int{t, u}
	}
	if len(out.Shape) != len(want) || out.Shape[0] != want[0] || (len(want) == 2 && out.Shape[1] != want[1]) {
		return fmt.Errorf("output shape %v, but the op computes %v", out.Shape, want)
	}
	return nil
}

// lstmCost returns the LSTM's work and scratch bytes per sample, and its
// constants' bytes (two multipliers and a bias per gate column).
func lstmCost(op *Op, in []int) (work, scratch, fixed int64) {
	t, gu := int64(in[0]), int64(op.WeightShape[1])
	k := int64(op.WeightShape[0])
	work = bounds.SatAdd(bounds.SatMul(t, k, gu), bounds.SatMul(t, gu, 8))
	// The input projection (T, 4U) int16, the cell (U) int16, the
	// previous output (U) int8 and one step's gates (4U) int16.
	scratch = bounds.SatAdd(bounds.SatMul(2, t, gu), bounds.SatMul(5, gu))
	return work, scratch, bounds.SatMul(24, gu)
}

// lstmKernel is the integer LSTM (see the top of this file): the input
// projection of all N*T steps first (int32 rows, each weight row added
// scaled by one input code), then per step and sample the recurrent
// product at batch 1 (a matrix-vector product over the previous output's
// codes), the gates and the cell.
// in (N, T, F) -> out (N, T, U) or (N, U)
type lstmKernel struct {
	it      *Interpreter
	in, out int
	p       *LSTMParams
	px      []int16 // (N, T, 4U) by input time
	acc     []int32 // (4U)
	z       []int16 // (4U)
	c       []int16 // (U)
	h       []int8  // (U)
}

func newLSTM(it *Interpreter, op *Op) (*lstmKernel, error) {
	p, err := NewLSTMParams(op, &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output])
	if err != nil {
		return nil, err
	}
	return &lstmKernel{it: it, in: op.Inputs[0], out: op.Output, p: p}, nil
}

// shareWith returns this op's kernel for sub, sharing the constants.
func (k *lstmKernel) shareWith(sub *Interpreter) kernel {
	return &lstmKernel{it: sub, in: k.in, out: k.out, p: k.p}
}

func (k *lstmKernel) alloc(n int) {
	gu := 4 * k.p.U
	k.px = grow16(k.px, n*k.p.T*gu)
	k.acc = make([]int32, gu)
	k.z = make([]int16, gu)
	k.c = make([]int16, k.p.U)
	k.h = make([]int8, k.p.U)
}

// grow16 returns buf with n elements, reusing its storage.
func grow16(buf []int16, n int) []int16 {
	if cap(buf) < n {
		return make([]int16, n)
	}
	return buf[:n]
}

func (k *lstmKernel) run(n int) {
	LSTMRun(k.p, k.it.i8[k.in][:n*k.p.T*k.p.F], k.it.i8[k.out], n, k.px, k.acc, k.z, k.c, k.h)
}

// LSTMRun runs the integer LSTM of p on n samples x (N, T, F) into y (N,
// T, U) or (N, U), with scratch px (N*T*4U), acc (4U), z (4U), c (U) and
// h (U). The interpreter's op and the QAT model's inference call it.
func LSTMRun(p *LSTMParams, x, y []int8, n int, px []int16, acc []int32, z, c []int16, h []int8) {
	t, f, u := p.T, p.F, p.U
	gu := 4 * u
	acc, z = acc[:gu], z[:gu]
	// The input projection of every step.
	for r := 0; r < n*t; r++ {
		copy(acc, p.Bias)
		xr := x[r*f : (r+1)*f]
		for fi, xv := range xr {
			s := int32(xv) - p.Zx
			if s == 0 {
				continue
			}
			w := p.W[fi*gu : (fi+1)*gu]
			w = w[:len(acc)]
			for j, wv := range w {
				acc[j] += s * int32(wv)
			}
		}
		out := px[r*gu : (r+1)*gu]
		out = out[:len(acc)]
		for j, a := range acc {
			out[j] = sat16(int64(p.Mx[j].Apply(a)))
		}
	}
	for i := 0; i < n; i++ {
		clear(c)
		for j := range h {
			h[j] = int8(p.Zh)
		}
		for s := 0; s < t; s++ {
			ti := s
			if p.Backwards {
				ti = t - 1 - s
			}
			clear(acc)
			if s > 0 {
				for ui, hv := range h {
					d := int32(hv) - p.Zh
					if d == 0 {
						continue
					}
					w := p.R[ui*gu : (ui+1)*gu]
					w = w[:len(acc)]
					for j, wv := range w {
						acc[j] += d * int32(wv)
					}
				}
			}
			pxr := px[(i*t+ti)*gu : (i*t+ti+1)*gu]
			pxr = pxr[:len(acc)]
			for j, a := range acc {
				z[j] = sat16(int64(pxr[j]) + int64(p.Mr[j].Apply(a)))
			}
			LSTMCell(z, c, h, p.E, p.Mh, p.Zh, p.Lo, p.Hi)
			if p.ReturnSeq {
				copy(y[(i*t+s)*u:(i*t+s+1)*u], h)
			}
		}
		if !p.ReturnSeq {
			copy(y[i*u:(i+1)*u], h)
		}
	}
}
