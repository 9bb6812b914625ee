package lite

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/qkernels"
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
//
// The integer SimpleRNN (OpSimpleRNN) is the same op with one gate and no
// cell: weights (F+U, U), and per step h' = clamp(round(Tanh16(z) *
// 2^-15 / sh) + zh).
//
// The integer GRU (OpGRU, Keras's reset_after form) has three gates z, r,
// h, weights (F+U, 3U) and two biases (Bias (6U): the input bias at scale
// sx sw[j], then the recurrent bias at sh sr[j], inside the recurrent
// product, so pr is not zero at the first step). Per step:
//
//	z, r = Sigmoid16(sat16(px + pr))                      of the z, r columns
//	rq   = sat16(round(r pr_h / 2^15))                   Q3.12
//	n    = Tanh16(sat16(px_h + rq))                       Q0.15
//	h'   = clamp(round(z (h - zh) 2^-15 + (2^15 - z) n 2^-30 / sh) + zh)
//
// the last a single rounding of the two terms with a common shift
// (qmath.CommonMultipliers).
//
// With Op.Masking, a step of a sample whose input codes all equal zx (its
// features all exactly zero, as a quantized Embedding's MaskZero row or a
// zero-padded sequence gives) is padding, as nn's Masking (docs/DESIGN.md,
// Sequence layers): the cell is not run, h and c keep their values and
// the step outputs the previous output (zh before the first real step).

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

// roundShift returns p / 2^s rounded half to even, as qmath.RoundShift,
// without branches for the shifts the LSTM uses (1..62).
func roundShift(p int64, s uint) int64 {
	if s-1 > 61 { // s == 0 or s > 62
		return qmath.RoundShift(p, s)
	}
	return (p + (int64(1) << (s - 1)) - 1 + ((p >> s) & 1)) >> s
}

// mult is a qmath.Multiplier in the form the kernel applies.
type mult struct {
	m0 int64
	s  uint
}

func newMult(m qmath.Multiplier) mult { return mult{m0: int64(m.M0), s: uint(m.Shift)} }

// apply returns round_half_even(acc * M0 / 2^Shift), unsaturated
// (qmath.Multiplier.Apply before its int32 saturation).
func (m mult) apply(acc int32) int64 { return roundShift(int64(acc)*m.m0, m.s) }

// colMults holds one multiplier per gate column, as arrays for the
// requantization loops; fast is true when every shift is in 1..62 (the
// branch-free rounding applies).
type colMults struct {
	m0, half []int64 // M0, 2^(Shift-1) - 1
	s        []uint
	fast     bool
	m        []mult
	vec      *qkernels.Requant16 // the AVX-512 form (lstm_fast.go), or nil
}

func newColMults(ms []mult) colMults {
	c := colMults{m0: make([]int64, len(ms)), half: make([]int64, len(ms)), s: make([]uint, len(ms)), fast: true, m: ms}
	for j, m := range ms {
		c.m0[j], c.s[j] = m.m0, m.s
		if m.s < 1 || m.s > 62 {
			c.fast = false
			continue
		}
		c.half[j] = int64(1)<<(m.s-1) - 1
	}
	c.vec = newVecRows16(&c)
	return c
}

// rows16 writes out[j] = sat16(round((a[j] + off[j]) * M[j])), plus
// sat16(add[j] + that) when add is not nil (the recurrent term added to
// the input projection: two roundings and two saturations, as the
// integer LSTM defines them).
func (c *colMults) rows16(a, off []int32, add, out []int16) {
	if c.vec != nil && len(a) == c.vec.N() {
		c.vec.Rows(a, off, add, out)
		return
	}
	n := len(a)
	off, out = off[:n], out[:n]
	if !c.fast {
		for j, v := range a {
			q := int64(sat16(c.m[j].apply(v + off[j])))
			if add != nil {
				q += int64(add[j])
			}
			out[j] = sat16(q)
		}
		return
	}
	m0, half, sh := c.m0[:n], c.half[:n], c.s[:n]
	if add == nil {
		for j, v := range a {
			p := int64(v+off[j]) * m0[j]
			s := sh[j] & 63
			out[j] = int16(min(max((p+half[j]+((p>>s)&1))>>s, math.MinInt16), math.MaxInt16))
		}
		return
	}
	add = add[:n]
	for j, v := range a {
		p := int64(v+off[j]) * m0[j]
		s := sh[j] & 63
		q := min(max((p+half[j]+((p>>s)&1))>>s, math.MinInt16), math.MaxInt16)
		out[j] = int16(min(max(q+int64(add[j]), math.MinInt16), math.MaxInt16))
	}
}

// lstmCell computes one step of the integer LSTM on one sample's gate
// pre-activations z (4U, Q3.12: i, f, c, o blocks), updating the cell
// state c (U, scale 2^e) in place and writing to h (U) the output codes,
// requantized with mh (2^-30 / sh), zero point zh and clamp [lo, hi].
func lstmCell(z []int16, c []int16, h []int8, e int, mh mult, zh, lo, hi int64) {
	int16Tables()
	u := len(c)
	zi, zf, zc, zo := z[:u], z[u:2*u], z[2*u:3*u], z[3*u:4*u]
	h = h[:u]
	sig, tnh := &lstmTables.sigmoid, &lstmTables.tan
	igShift := uint(30+e) & 63          // 18..30
	igHalf := int64(1)<<(igShift-1) - 1 // the rounding's constant
	tShift := uint(GateFracBits+e) & 63 // 0..12
	fastH := mh.s >= 1 && mh.s <= 62
	hs := mh.s & 63
	var hHalf int64
	if fastH {
		hHalf = int64(1)<<(hs-1) - 1
	}
	for j := range c {
		i := int64(sig[uint16(zi[j])^0x8000])
		f := int64(sig[uint16(zf[j])^0x8000])
		g := int64(tnh[uint16(zc[j])^0x8000])
		o := int64(sig[uint16(zo[j])^0x8000])
		fc := f * int64(c[j])
		ig := i * g
		cv := (fc+(1<<(ActFracBits-1))-1+((fc>>ActFracBits)&1))>>ActFracBits + (ig+igHalf+((ig>>igShift)&1))>>igShift
		cv = min(max(cv, math.MinInt16), math.MaxInt16)
		c[j] = int16(cv)
		tc := int64(tnh[uint16(min(max(cv<<tShift, math.MinInt16), math.MaxInt16))^0x8000])
		var q int64
		if p := o * tc * mh.m0; fastH {
			q = (p + hHalf + ((p >> hs) & 1)) >> hs
		} else {
			q = qmath.RoundShift(p, mh.s)
		}
		h[j] = int8(min(max(q+zh, lo), hi))
	}
}

// lstmParams holds an integer LSTM's constants, computed from its op and
// tensors.
type lstmParams struct {
	t, f, u, gates int
	zx, zh, lo, hi int64
	mx, mr         colMults // (4U): the products to Q3.12
	mh             mult     // o*tanh(c) (Q0.30) to the output's scale
	e              int
	w, r           *qkernels.Weights // (F, 4U), (U, 4U), packed
	offX, offR     []int32           // (4U): bias - (zx+128)*colsum(W), -(zh+128)*colsum(R)
	seq, back      bool
	mask           bool    // Op.Masking
	recBias        []int32 // GRU (3U): the recurrent bias, else zeros
	m1, m2         int64   // GRU: the output's common-shift multipliers
	shift          uint
	cell           *qkernels.LSTMCell // the AVX-512 cell (lstm_fast.go), or nil
}

// newLSTMParams computes the constants of op (an OpLSTM of a valid model)
// with input tensor in and output tensor out, and packs the weights.
func newLSTMParams(op *Op, in, out *Tensor) (*lstmParams, error) {
	t, f := in.Shape[0], in.Shape[1]
	gu := op.WeightShape[1]
	gates := recurrentGates(op.Type)
	u := gu / gates
	p := &lstmParams{t: t, f: f, u: u, gates: gates, zx: int64(in.ZeroPoint), zh: int64(out.ZeroPoint), e: op.CellExponent,
		seq: op.ReturnSequences, back: op.GoBackwards, mask: op.Masking}
	lo, hi := out.QRange()
	p.lo, p.hi = int64(lo), int64(hi)
	mxs := make([]mult, gu)
	mrs := make([]mult, gu)
	gate := math.Ldexp(1, GateFracBits)
	for j := 0; j < gu; j++ {
		mx, err := qmath.NewMultiplier(float64(in.Scale) * float64(op.WeightScales[j]) * gate)
		if err != nil {
			return nil, fmt.Errorf("input gate column %d: %w", j, err)
		}
		mr, err := qmath.NewMultiplier(float64(out.Scale) * float64(op.WeightScales[gu+j]) * gate)
		if err != nil {
			return nil, fmt.Errorf("recurrent gate column %d: %w", j, err)
		}
		mxs[j], mrs[j] = newMult(mx), newMult(mr)
	}
	p.mx, p.mr = newColMults(mxs), newColMults(mrs)
	hExp := -2 * ActFracBits // o*tanh(c): Q0.30
	if gates == 1 {
		hExp = -ActFracBits // tanh(z): Q0.15
	}
	mh, err := qmath.NewMultiplier(math.Ldexp(1, hExp) / float64(out.Scale))
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	p.mh = newMult(mh)
	if gates == 3 {
		ms, sh, err := qmath.CommonMultipliers(math.Ldexp(1, -ActFracBits), math.Ldexp(1, -2*ActFracBits)/float64(out.Scale))
		if err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
		p.m1, p.m2, p.shift = ms[0], ms[1], sh
	}
	if p.w, err = qkernels.PackWeights(-1, op.Weights[:f*gu], f, gu); err != nil {
		return nil, err
	}
	if p.r, err = qkernels.PackWeights(-1, op.Weights[f*gu:], u, gu); err != nil {
		return nil, err
	}
	p.offX = make([]int32, gu)
	p.offR = make([]int32, gu)
	cx, cr := p.w.ColSums(), p.r.ColSums()
	p.recBias = make([]int32, gu)
	for j := 0; j < gu; j++ {
		if op.Bias != nil {
			p.offX[j] = op.Bias[j]
			if gates == 3 {
				p.recBias[j] = op.Bias[gu+j]
			}
		}
		p.offX[j] -= int32(in.ZeroPoint+128) * cx[j]
		p.offR[j] = p.recBias[j] - int32(out.ZeroPoint+128)*cr[j]
	}
	p.cell = newVecCell(p)
	return p, nil
}

// checkLSTM checks an LSTM or SimpleRNN op's attributes, weights and
// shapes; other ops must not carry their attributes.
func checkLSTM(op *Op, in, out *Tensor) error {
	gates := recurrentGates(op.Type)
	if gates == 0 {
		if op.CellExponent != 0 || op.ReturnSequences || op.GoBackwards || op.Masking {
			return errors.New("LSTM attributes on an op that takes none")
		}
		return nil
	}
	if gates != 4 && op.CellExponent != 0 {
		return fmt.Errorf("cell exponent %d on a %s, which has no cell", op.CellExponent, op.Type)
	}
	if op.Activation != "" {
		return fmt.Errorf("fused activation %q on a recurrent op", op.Activation)
	}
	if len(in.Shape) != 2 {
		return fmt.Errorf("input shape %v, want (steps, features)", in.Shape)
	}
	if op.WeightBits < 2 || op.WeightBits > 8 {
		return fmt.Errorf("%d weight bits (want 2..8)", op.WeightBits)
	}
	ws := op.WeightShape
	if len(ws) != 2 {
		return fmt.Errorf("weight shape %v, want (features+units, %d*units)", ws, gates)
	}
	if _, err := bounds.Values(ws); err != nil {
		return fmt.Errorf("weight %w", err)
	}
	t, f := in.Shape[0], in.Shape[1]
	if ws[1]%gates != 0 || ws[1] == 0 || ws[0] != f+ws[1]/gates {
		return fmt.Errorf("weight shape %v does not fit %d features and %d gate columns", ws, f, ws[1])
	}
	u := ws[1] / gates
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
	if nb := lstmBiases(op.Type, ws[1]); op.Bias != nil && len(op.Bias) != nb {
		return fmt.Errorf("%d biases, want %d for %d gate columns", len(op.Bias), nb, ws[1])
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

// recurrentGates returns the gate blocks of a recurrent op type (0 for
// the others).
func recurrentGates(t OpType) int {
	switch t {
	case OpLSTM:
		return 4
	case OpSimpleRNN:
		return 1
	case OpGRU:
		return 3
	}
	return 0
}

// lstmBiases is the bias length of a recurrent op of gu gate columns:
// two biases per column for a GRU, one for the others.
func lstmBiases(t OpType, gu int) int {
	if t == OpGRU {
		return 2 * gu
	}
	return gu
}

// gruCell is the GRU step on one sample (see the top of this file): px
// and pr (3U, Q3.12) the two products of the z, r and h columns, h (U)
// the previous output's codes, replaced by the new ones; (m1, m2, sh) the
// common-shift multipliers of 2^-15 and 2^-30 / sh.
func gruCell(px, pr []int16, h []int8, m1, m2 int64, shift uint, zh, lo, hi int64) {
	int16Tables()
	sig, tnh := &lstmTables.sigmoid, &lstmTables.tan
	u := len(h)
	for j := range h {
		z := int64(sig[uint16(sat16(int64(px[j])+int64(pr[j])))^0x8000])
		r := int64(sig[uint16(sat16(int64(px[u+j])+int64(pr[u+j])))^0x8000])
		rq := sat16(roundShift(r*int64(pr[2*u+j]), ActFracBits))
		n := int64(tnh[uint16(sat16(int64(px[2*u+j])+int64(rq)))^0x8000])
		acc := z*(int64(h[j])-zh)*m1 + (1<<ActFracBits-z)*n*m2
		h[j] = int8(min(max(roundShift(acc, shift)+zh, lo), hi))
	}
}

// rnnCell is the SimpleRNN step on one sample: h = the output codes of
// Tanh16(z) (Q0.15) requantized with mh (2^-15 / sh), zero point zh and
// clamp [lo, hi].
func rnnCell(z []int16, h []int8, mh mult, zh, lo, hi int64) {
	int16Tables()
	tnh := &lstmTables.tan
	z = z[:len(h)]
	for j, v := range z {
		q := mh.apply(int32(tnh[uint16(v)^0x8000]))
		h[j] = int8(min(max(q+zh, lo), hi))
	}
}

// lstmCost returns the LSTM's work and scratch bytes per sample, and its
// fixed bytes: the packed weights, two multipliers and two offsets per
// gate column, the chunk's activation rows and accumulators.
func lstmCost(op *Op, in []int) (work, scratch, fixed int64) {
	t, gu := int64(in[0]), int64(op.WeightShape[1])
	k := int64(op.WeightShape[0])
	f := int64(in[1])
	work = bounds.SatAdd(bounds.SatMul(t, k, gu), bounds.SatMul(t, gu, 8))
	// The input projection (T, 4U) int16, the cell (U) int16 and the
	// previous output (U) int8.
	scratch = bounds.SatAdd(bounds.SatMul(2, t, gu), bounds.SatMul(3, gu))
	if op.Masking {
		scratch = bounds.SatAdd(scratch, t) // the padding flags
	}
	fixed = bounds.SatAdd(packedBytes(f, gu), packedBytes(k-f, gu), bounds.SatMul(40, gu),
		bounds.SatMul(int64(qkernels.PaddedRows(lstmChunk)), bounds.SatAdd(k, 4)), bounds.SatMul(4*lstmChunk+2, gu))
	return work, scratch, fixed
}

// lstmChunk is the rows of one product call: one row tile, so that its
// int32 accumulators stay in the L1 cache.
const lstmChunk = qkernels.MR

// lstmKernel is the integer LSTM (see the top of this file), on the int8
// product kernels of internal/qkernels (Weights.Acc): the input
// projection of all N*T steps first, in chunks of rows, then step by
// step the recurrent product of the batch's previous outputs (a
// matrix-vector product at batch 1) and, per sample, the gates and the
// cell in int16 fixed point.
// in (N, T, F) -> out (N, T, U) or (N, U)
type lstmKernel struct {
	it      *Interpreter
	in, out int
	p       *lstmParams
	px      []int16 // (N, T, 4U) by input time: the input projection, Q3.12
	abuf    []uint8 // lstmChunk rows of activations
	acc     []int32 // (lstmChunk, 4U)
	z       []int16 // (4U)
	zero    []int32 // (4U) zeros
	c       []int16 // (N, U)
	h       []int8  // (N, U)
	pad     []bool  // Masking: (N, T) by input time, a padding step
}

func newLSTM(it *Interpreter, op *Op) (*lstmKernel, error) {
	p, err := newLSTMParams(op, &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output])
	if err != nil {
		return nil, err
	}
	return &lstmKernel{it: it, in: op.Inputs[0], out: op.Output, p: p}, nil
}

// shareWith returns this op's kernel for sub, sharing the constants and
// the packed weights.
func (k *lstmKernel) shareWith(sub *Interpreter) kernel {
	return &lstmKernel{it: sub, in: k.in, out: k.out, p: k.p}
}

func (k *lstmKernel) alloc(n int) {
	p := k.p
	gu := p.gates * p.u
	k.px = grow16(k.px, n*p.t*gu)
	k.abuf = make([]uint8, qkernels.PaddedRows(lstmChunk)*qkernels.RowStride(max(p.f, p.u)))
	k.acc = make([]int32, lstmChunk*gu)
	k.z = make([]int16, gu)
	k.zero = make([]int32, gu)
	k.c = grow16(k.c, n*p.u)
	if cap(k.h) < n*p.u {
		k.h = make([]int8, n*p.u)
	}
	k.h = k.h[:n*p.u]
	if p.mask {
		if cap(k.pad) < n*p.t {
			k.pad = make([]bool, n*p.t)
		}
		k.pad = k.pad[:n*p.t]
	}
}

// grow16 returns buf with n elements, reusing its storage.
func grow16(buf []int16, n int) []int16 {
	if cap(buf) < n {
		return make([]int16, n)
	}
	return buf[:n]
}

func (k *lstmKernel) run(n int) {
	p := k.p
	t, f, u := p.t, p.f, p.u
	gu := p.gates * u
	x, y := k.it.i8[k.in][:n*t*f], k.it.i8[k.out]
	// The input projection of every step, lstmChunk rows at a time.
	ldx := qkernels.RowStride(f)
	for r0 := 0; r0 < n*t; r0 += lstmChunk {
		rows := min(lstmChunk, n*t-r0)
		for i := 0; i < rows; i++ {
			qkernels.PackRow(k.abuf[i*ldx:], x[(r0+i)*f:(r0+i+1)*f])
		}
		k.product(p.w, ldx, rows)
		for i := 0; i < rows; i++ {
			p.mx.rows16(k.acc[i*gu:(i+1)*gu], p.offX, nil, k.px[(r0+i)*gu:(r0+i+1)*gu])
		}
	}
	k.padding(x, n)
	c, h := k.c[:n*u], k.h[:n*u]
	clear(c)
	for i := range h {
		h[i] = int8(p.zh)
	}
	ldh := qkernels.RowStride(u)
	for s := 0; s < t; s++ {
		ti := s
		if p.back {
			ti = t - 1 - s
		}
		for i0 := 0; i0 < n; i0 += lstmChunk {
			rows := min(lstmChunk, n-i0)
			if s > 0 {
				for i := 0; i < rows; i++ {
					qkernels.PackRow(k.abuf[i*ldh:], h[(i0+i)*u:(i0+i+1)*u])
				}
				k.product(p.r, ldh, rows)
			}
			for i := 0; i < rows; i++ {
				smp := i0 + i
				pxr := k.px[(smp*t+ti)*gu : (smp*t+ti+1)*gu]
				z := k.z[:len(pxr)]
				hs := h[smp*u : (smp+1)*u]
				if p.mask && k.pad[smp*t+ti] {
					// Padding: h and c carried over.
					if p.seq {
						copy(y[(smp*t+s)*u:(smp*t+s+1)*u], hs)
					}
					continue
				}
				if p.gates == 3 {
					// GRU: the recurrent product on its own (with its
					// bias: at the first step the bias alone).
					if s == 0 {
						p.mr.rows16(p.recBias, k.zero, nil, z)
					} else {
						p.mr.rows16(k.acc[i*gu:(i+1)*gu], p.offR, nil, z)
					}
					p.gruStep(pxr, z, hs)
					if p.seq {
						copy(y[(smp*t+s)*u:(smp*t+s+1)*u], hs)
					}
					continue
				}
				if s == 0 {
					copy(z, pxr) // the state is zero: no recurrent term
				} else {
					p.mr.rows16(k.acc[i*gu:(i+1)*gu], p.offR, pxr, z)
				}
				if p.gates == 1 {
					p.rnnStep(z, hs)
				} else {
					p.lstmStep(z, c[smp*u:(smp+1)*u], hs)
				}
				if p.seq {
					copy(y[(smp*t+s)*u:(smp*t+s+1)*u], hs)
				}
			}
		}
	}
	if !p.seq {
		copy(y[:n*u], h)
	}
}

// padding sets k.pad (Masking) from the input codes x (N, T, F): a step
// is padding when every code equals the input's zero point.
func (k *lstmKernel) padding(x []int8, n int) {
	p := k.p
	if !p.mask {
		return
	}
	f := p.f
	for r := range k.pad[:n*p.t] {
		pad := true
		for _, v := range x[r*f : (r+1)*f] {
			if int64(v) != p.zx {
				pad = false
				break
			}
		}
		k.pad[r] = pad
	}
}

// product computes rows activation rows of k.abuf (stride lda) times w
// into k.acc.
func (k *lstmKernel) product(w *qkernels.Weights, lda, rows int) {
	if err := w.Acc(k.abuf, lda, rows, k.acc, w.N()); err != nil {
		panic(err) // the buffers are sized by alloc for these shapes
	}
}
