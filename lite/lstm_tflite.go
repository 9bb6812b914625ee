package lite

import (
	"fmt"
	"math"
	"sync"

	"github.com/goqat/goqat/qmath"
)

// The integer LSTM in the TFLite rounding modes (docs/DESIGN.md, Numerics:
// the rounding modes; docs/tflite.md, Sequence models): what TFLite's
// integer ("8x8_16") UNIDIRECTIONAL_SEQUENCE_LSTM kernel computes for the
// file format/tflite writes, which needs one weight scale per gate matrix
// (TFLiteLSTMScales). Per step, for gate g (i, f, c, o) and unit j:
//
//	gx   = sat16(mul(bx[j] + sum_f x_f Wg[f,j], Mx_g))            Q3.12
//	z    = sat16(gx + mul(br[j] + sum_u h_u Rg[u,j], Mr_g))
//	i, f, o = sigmoid16TFL(z), g = tanh16TFL(z, 3)                Q0.15
//	c'   = sat16(rdiv(f c, 15) + rdiv(i g, 30+E))                scale 2^E
//	h'   = clamp(mul(o tanh16TFL(c', 15+E), Mh) + zh, -128, 127)
//
// where mul is TFLite's multiplier application (two roundings,
// qmath.TFLiteMultiply), rdiv a division by a power of two rounded half
// away from zero (qmath.RoundingDivideByPOT), bx = b - zx colsum(W) and br
// = -zh colsum(R) the biases with the zero points folded in, and the
// multipliers those of the float32 scales TFLite derives: Mx_g of
// float32(sx swx_g) * 2^12, Mr_g of float32(sh swr_g) * 2^12 and Mh of
// float32(2^-15 / sh) * 2^-15 (qmath.NewTFLiteMultiplier). The sigmoid and
// tanh are gemmlowp's int16 fixed-point functions (lite/lstm_gemmlowp.go),
// the cell's tanh reading it with 15+E integer bits (E in -15..-9). Unlike
// goqat's kernel, the recurrent term is not saturated on its own and the
// activations are the fixed-point approximations rather than the exactly
// rounded functions.

// MaxTFLiteCellExponent is the largest cell exponent E (cell scale 2^E)
// of TFLite's integer LSTM: its kernel computes tanh of the cell with
// 15+E integer bits, at most 6.
const MaxTFLiteCellExponent = -9

// TFLiteLSTMScales reports whether op, an OpLSTM, has one weight scale per
// gate matrix (each of the kernel's and the recurrent kernel's four gate
// blocks of U columns carries a single scale), as TFLite's integer LSTM
// requires, and returns the eight scales: the kernel's i, f, c, o blocks,
// then the recurrent kernel's.
func TFLiteLSTMScales(op *Op) ([8]float32, bool) {
	var s [8]float32
	if op.Type != OpLSTM || len(op.WeightShape) != 2 || op.WeightShape[1]%4 != 0 || len(op.WeightScales) != 2*op.WeightShape[1] {
		return s, false
	}
	u := op.WeightShape[1] / 4
	if u == 0 {
		return s, false
	}
	for b := range 8 {
		blk := op.WeightScales[b*u : (b+1)*u]
		for _, v := range blk {
			if v != blk[0] {
				return s, false
			}
		}
		s[b] = blk[0]
	}
	return s, true
}

// tflLSTMKernel is OpLSTM in a TFLite rounding mode (see the top of this
// file). Pure Go, sample by sample; speed is secondary in this mode.
// in (N, T, F) -> out (N, T, U) or (N, U)
type tflLSTMKernel struct {
	it         *Interpreter
	in, out    int
	t, f, u, e int
	seq, back  bool
	wx, wr     []int8 // (4U, F), (4U, U): each gate column's weights, contiguous
	bx, br     []int32
	sig, tg    *[1 << 16]int16 // the sigmoid and the gates' tanh of every Q3.12 code
	tc         *[1 << 16]int16 // tanh of every cell code
	mx, mr     [4]qmath.Multiplier
	mh         qmath.Multiplier
	zh         int32
	gate       []int16 // (4U)
	c          []int16 // (U)
	h, hn      []int8  // (U)
}

// newTFLLSTM builds the kernel of op, an OpLSTM with one weight scale per
// gate matrix (TFLiteLSTMScales).
func newTFLLSTM(it *Interpreter, op *Op) (*tflLSTMKernel, error) {
	in, out := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	sc, ok := TFLiteLSTMScales(op)
	if !ok {
		return nil, fmt.Errorf("LSTM %q: TFLite's integer LSTM takes one weight scale per gate matrix", op.Name)
	}
	t, f := in.Shape[0], in.Shape[1]
	gu := op.WeightShape[1]
	u := gu / 4
	k := &tflLSTMKernel{it: it, in: op.Inputs[0], out: op.Output, t: t, f: f, u: u, e: op.CellExponent,
		seq: op.ReturnSequences, back: op.GoBackwards, zh: out.ZeroPoint,
		bx: make([]int32, gu), br: make([]int32, gu), wx: make([]int8, gu*f), wr: make([]int8, gu*u)}
	if k.e < MinCellExponent || k.e > MaxTFLiteCellExponent {
		return nil, fmt.Errorf("LSTM %q: cell scale 2^%d: TFLite's integer LSTM computes tanh of the cell for scales up to 2^%d only", op.Name, k.e, MaxTFLiteCellExponent)
	}
	k.sig, k.tg, k.tc = tflActTable(-1), tflActTable(3), tflActTable(15+k.e)
	for g := range 4 {
		var err error
		ex := float32(in.Scale*sc[g]) * (1 << GateFracBits)
		if k.mx[g], err = qmath.NewTFLiteMultiplier(float64(ex)); err != nil {
			return nil, fmt.Errorf("LSTM %q input gate %d: %w", op.Name, g, err)
		}
		er := float32(out.Scale*sc[4+g]) * (1 << GateFracBits)
		if k.mr[g], err = qmath.NewTFLiteMultiplier(float64(er)); err != nil {
			return nil, fmt.Errorf("LSTM %q recurrent gate %d: %w", op.Name, g, err)
		}
	}
	eh := float32(math.Ldexp(1, -ActFracBits)/float64(out.Scale)) * float32(math.Ldexp(1, -ActFracBits))
	var err error
	if k.mh, err = qmath.NewTFLiteMultiplier(float64(eh)); err != nil {
		return nil, fmt.Errorf("LSTM %q output: %w", op.Name, err)
	}
	for j := range gu {
		var cx, cr int32
		for r := range f {
			k.wx[j*f+r] = op.Weights[r*gu+j]
			cx += int32(op.Weights[r*gu+j])
		}
		for r := range u {
			k.wr[j*u+r] = op.Weights[(f+r)*gu+j]
			cr += int32(op.Weights[(f+r)*gu+j])
		}
		if op.Bias != nil {
			k.bx[j] = op.Bias[j]
		}
		k.bx[j] -= in.ZeroPoint * cx
		k.br[j] = -out.ZeroPoint * cr
	}
	return k, nil
}

func (k *tflLSTMKernel) alloc(int) {
	k.gate = make([]int16, 4*k.u)
	k.c = make([]int16, k.u)
	k.h = make([]int8, k.u)
	k.hn = make([]int8, k.u)
}

func (k *tflLSTMKernel) run(n int) {
	t, f, u := k.t, k.f, k.u
	gu := 4 * u
	x, y := k.it.i8[k.in][:n*t*f], k.it.i8[k.out]
	cellShift := int(30 + k.e)
	for s := range n {
		clear(k.c)
		for j := range k.h {
			k.h[j] = int8(k.zh)
		}
		for step := range t {
			ti := step
			if k.back {
				ti = t - 1 - step
			}
			xs := x[(s*t+ti)*f : (s*t+ti+1)*f]
			for j := range gu {
				g := j / u
				ax := k.bx[j]
				for r, w := range k.wx[j*f : (j+1)*f] {
					ax += int32(xs[r]) * int32(w)
				}
				gx := int32(sat16(int64(qmath.TFLiteMultiply(ax, k.mx[g]))))
				ar := k.br[j]
				for r, w := range k.wr[j*u : (j+1)*u] {
					ar += int32(k.h[r]) * int32(w)
				}
				z := sat16(int64(gx) + int64(qmath.TFLiteMultiply(ar, k.mr[g])))
				if g == 2 {
					k.gate[j] = k.tg[uint16(z)]
				} else {
					k.gate[j] = k.sig[uint16(z)]
				}
			}
			for j := range u {
				ig, fg, cg, og := int32(k.gate[j]), int32(k.gate[u+j]), int32(k.gate[2*u+j]), int32(k.gate[3*u+j])
				fc := int16(qmath.RoundingDivideByPOT(fg*int32(k.c[j]), 15))
				ic := int16(qmath.RoundingDivideByPOT(ig*cg, cellShift))
				k.c[j] = sat16(int64(fc) + int64(ic))
				tc := int32(k.tc[uint16(k.c[j])])
				v := int64(qmath.TFLiteMultiply(og*tc, k.mh)) + int64(k.zh)
				k.hn[j] = int8(min(max(v, -128), 127))
			}
			copy(k.h, k.hn)
			if k.seq {
				copy(y[(s*t+step)*u:(s*t+step+1)*u], k.h)
			}
		}
		if !k.seq {
			copy(y[s*u:(s+1)*u], k.h)
		}
	}
}

// tflActTables holds, built once each, the table of sigmoid16TFL (index
// 0) and of tanh16TFL for 0..6 integer bits (index 1+ib), by the input's
// bits as uint16.
var tflActTables [8]struct {
	once sync.Once
	t    [1 << 16]int16
}

// tflActTable returns the table of tanh16TFL with ib integer bits (0..6),
// or of sigmoid16TFL for ib -1.
func tflActTable(ib int) *[1 << 16]int16 {
	e := &tflActTables[ib+1]
	e.once.Do(func() {
		for q := range 1 << 16 {
			z := int16(uint16(q))
			if ib < 0 {
				e.t[q] = sigmoid16TFL(z)
			} else {
				e.t[q] = tanh16TFL(z, ib)
			}
		}
	})
	return &e.t
}
