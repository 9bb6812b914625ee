package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// The recurrent layers (LSTM, GRU, SimpleRNN) share this machinery
// (docs/DESIGN.md, Sequence layers): inputs (N, T, F), a kernel (F, G*U)
// applied to every step at once, a recurrent kernel (U, G*U) applied step
// by step, and backpropagation through time.
//
//   - The input projection x W + b of all N*T steps is one GEMM into the
//     gate buffer g (N, T, G*U), indexed by input time. Each step then adds
//     h_{s-1} Ur (one GEMM of N rows) into the step's rows of g, or, for
//     GRU (reset_after), into a separate buffer rec, and the cell computes
//     the gates' activations in place and the new state.
//   - Step s reads input time s, or T-1-s with GoBackwards; the outputs
//     are in step order (Keras: go_backwards returns the reversed
//     sequence).
//   - Backward walks the steps in reverse; per step one GEMM of N rows
//     (dgates Ur^T) carries the gradient to the previous state. The
//     weight gradients are then one GEMM each over all N*T steps (x^T
//     dgates, hprev^T dgates) and dx = dgates W^T is one more.
//   - Work is split across threads only along the batch (element-wise
//     gates) and inside Sgemm (never along k), so results do not depend on
//     the thread count.
//
// Masking: with Masking set, a step whose input features are all exactly
// zero is padding (Keras's Masking(mask_value=0.0) in front of the layer;
// an Embedding with MaskZero outputs zeros for index 0, so that Embedding
// (MaskZero) -> LSTM(Masking) computes what Keras's Embedding(mask_zero=
// True) -> LSTM computes). A padding step leaves the state unchanged and
// outputs the previous output (Keras's zero_output_for_mask=False); inside
// a Bidirectional with ReturnSequences it outputs zeros, as Keras's.
//
// Quantization (quantize/lstm.go, gru.go, simplernn.go; docs/lstm.md:
// TFLite's 8x8_16 integer LSTM): fake quant sits where the integer kernel
// rounds, which this layout exposes as
// separate buffers: the input projection x W + b (g right after its GEMM,
// int16 per gate), the recurrent product h Ur (separate, as GRU's rec, so
// that it is rounded on its own before the sum), the gate activations (int16
// Q0.15, in place in g), the cell state (LSTM cs, int16 with a power-of-two
// scale) and the output h (int8, which is also the next step's recurrent
// input: hprev is written from hs).

// RecurrentOptions holds the hyper-parameters LSTM, GRU and SimpleRNN
// share, with Keras's names in the saved configuration. The activations
// are Keras's defaults and fixed: tanh, and sigmoid for the gates.
type RecurrentOptions struct {
	// Units is the size of the state and of the output features.
	Units int `json:"units"`
	// UseBias adds the bias (true by default).
	UseBias bool `json:"use_bias"`
	// ReturnSequences returns every step's output, (N, T, Units), instead
	// of the last one, (N, Units).
	ReturnSequences bool `json:"return_sequences"`
	// GoBackwards reads the input from its last step to its first and
	// returns the outputs in that (reversed) order.
	GoBackwards bool `json:"go_backwards"`
	// Masking treats a step whose input features are all exactly zero as
	// padding: it leaves the state unchanged (see the top of recurrent.go).
	Masking bool `json:"masking"`
}

// decodeRecurrent decodes and checks a recurrent layer's saved config.
func decodeRecurrent(typ, name string, raw json.RawMessage) (RecurrentOptions, error) {
	o := RecurrentOptions{UseBias: true}
	if err := decodeConfig(raw, &o); err != nil {
		return o, fmt.Errorf("%s %q: config: %w", typ, name, err)
	}
	if o.Units <= 0 {
		return o, fmt.Errorf("%s %q: units must be positive, got %d", typ, name, o.Units)
	}
	return o, nil
}

// sequenceInput checks that in is one (T, F) sequence shape.
func sequenceInput(label string, in []tensor.Shape) (t, f int, err error) {
	if len(in) != 1 {
		return 0, 0, fmt.Errorf("%s: expects 1 input, got %d", label, len(in))
	}
	if len(in[0]) != 2 {
		return 0, 0, fmt.Errorf("%s: input shape %v must be rank 2 (steps, features)", label, in[0])
	}
	if err := in[0].Valid(); err != nil {
		return 0, 0, fmt.Errorf("%s: input %w", label, err)
	}
	return in[0][0], in[0][1], nil
}

// rnnCell is the step arithmetic of one kind of recurrent layer, on rows
// [lo, hi) of the batch at step s (input time ti) of core k.
type rnnCell interface {
	// forward turns rows lo..hi of the step's pre-activations (g, and rec
	// if separate) into activations, in place, and writes the new state
	// (hs, and cs for LSTM) of step s.
	forward(k *recurrent, s, ti, lo, hi int)
	// backward takes the gradient of the state after step s (dh, and dc
	// for LSTM), writes the step's pre-activation gradients (dg, and drec
	// if separate) and leaves in dh (dc) the part that flows to the
	// previous state directly (not through the recurrent kernel).
	backward(k *recurrent, s, ti, lo, hi int)
}

// recurrent is the shared core of a recurrent layer (see the top of this
// file).
type recurrent struct {
	label  string
	o      *RecurrentOptions
	cell   rnnCell
	gates  int  // G: 4 LSTM (i, f, c, o), 3 GRU (z, r, h), 1 SimpleRNN
	sepRec bool // the recurrent product has its own buffer (GRU)
	cells  bool // the layer has a cell state (LSTM)
	// zeroMasked makes padding steps output zeros (Bidirectional with
	// ReturnSequences).
	zeroMasked bool

	t, f, u, gu int    // steps, features, units, G*U
	kernel      *Param // (F, G*U)
	recKernel   *Param // (U, G*U)
	bias        *Param // (G*U), or (2, G*U) with sepRec; nil without UseBias
	params      []*Param

	n     int
	x     *tensor.Tensor
	g     []float32 // (N, T, G*U) by input time: pre-activations, then activations
	rec   []float32 // sepRec: (N, T, G*U) by input time: h_{s-1} Ur + b_rec
	hs    []float32 // (N, T, U) by step: the state after the step
	cs    []float32 // cells: (N, T, U) by step: the cell state after the step
	tc    []float32 // cells: (N, T, U) by step: tanh of it
	hprev []float32 // (N, T, U) by input time: the state before the step reading it
	mask  []bool    // (N, T) by input time: a padding step
	out   *tensor.Tensor
	seq   tensor.Tensor // ReturnSequences: a view of hs

	dg, drec []float32 // like g and rec; drec is dg without sepRec
	dh, dc   []float32 // (N, U): the gradient of the current state
	dx       *tensor.Tensor

	s, ti                int // the step the row functions work on
	fwdFn, bwdFn, biasFn func(lo, hi int)
	dOut                 *tensor.Tensor
}

// build checks the input and creates the parameters.
func (k *recurrent) build(label string, o *RecurrentOptions, cell rnnCell, gates int, sepRec, cells bool, in []tensor.Shape) (tensor.Shape, error) {
	t, f, err := sequenceInput(label, in)
	if err != nil {
		return nil, err
	}
	if o.Units <= 0 {
		return nil, fmt.Errorf("%s: units must be positive, got %d", label, o.Units)
	}
	gu, ok := bounds.Mul(gates, o.Units)
	if !ok || gu > bounds.MaxValues {
		return nil, fmt.Errorf("%s: %d units is too many", label, o.Units)
	}
	for _, rows := range []int{f, o.Units} {
		if w, ok := bounds.Mul(rows, gu); !ok || w > bounds.MaxValues {
			return nil, fmt.Errorf("%s: weights of %d x %d values are too large", label, rows, gu)
		}
	}
	*k = recurrent{seq: k.seq, label: label, o: o, cell: cell, gates: gates, sepRec: sepRec, cells: cells, zeroMasked: k.zeroMasked,
		t: t, f: f, u: o.Units, gu: gu}
	k.kernel = NewParam("kernel", true, f, gu)
	k.recKernel = NewParam("recurrent_kernel", true, o.Units, gu)
	k.params = []*Param{k.kernel, k.recKernel}
	if o.UseBias {
		if sepRec {
			k.bias = NewParam("bias", true, 2, gu)
		} else {
			k.bias = NewParam("bias", true, gu)
		}
		k.params = append(k.params, k.bias)
	}
	k.fwdFn, k.bwdFn, k.biasFn = k.forwardRows, k.backwardRows, k.addInputBias
	if o.ReturnSequences {
		return tensor.Shape{t, o.Units}, nil
	}
	return tensor.Shape{o.Units}, nil
}

// paramCount is the parameter values build would allocate.
func recurrentParamCount(in []tensor.Shape, gates, units int, useBias, sepRec bool) int64 {
	gu := mulCap(int64(gates), int64(units))
	n := addCap(mulCap(lastDim(in), gu), mulCap(int64(units), gu))
	if useBias {
		b := gu
		if sepRec {
			b = mulCap(2, gu)
		}
		n = addCap(n, b)
	}
	return n
}

// cost is the inference cost: the two products, the gates and the
// buffers Forward keeps per sample.
func (k *recurrent) cost(out tensor.Shape) Cost {
	t, f, u, gu := int64(k.t), int64(k.f), int64(k.u), int64(k.gu)
	macs := bounds.SatMul(t, bounds.SatAdd(f, u), gu)
	work := bounds.SatAdd(macs, bounds.SatMul(t, gu, 8))
	floats := bounds.SatAdd(bounds.SatMul(t, gu), bounds.SatMul(4, t, u), values(out))
	if k.sepRec {
		floats = bounds.SatAdd(floats, bounds.SatMul(t, gu))
	}
	return Cost{Work: work, Bytes: bounds.SatAdd(bounds.SatMul(4, floats), t)}
}

// step returns the input time of step s.
func (k *recurrent) step(s int) int {
	if k.o.GoBackwards {
		return k.t - 1 - s
	}
	return s
}

// grow returns buf with n elements, reusing its storage.
func grow[E any](buf []E, n int) []E {
	if cap(buf) < n {
		return make([]E, n)
	}
	return buf[:n]
}

// rowGrain is the batch rows a thread takes at least in the element-wise
// passes: enough work to be worth a hand-off.
func (k *recurrent) rowGrain() int { return max(1, 4096/max(1, k.gu)) }

// forward runs the layer on x (N, T, F) and returns (N, T, U) or (N, U).
func (k *recurrent) forward(x *tensor.Tensor) *tensor.Tensor {
	n, t, u, gu := x.Shape[0], k.t, k.u, k.gu
	if len(x.Shape) != 3 || x.Shape[1] != t || x.Shape[2] != k.f || len(x.Data) != n*t*k.f {
		panic(fmt.Sprintf("%s: input shape %v, built for (N, %d, %d)", k.label, x.Shape, t, k.f))
	}
	k.n, k.x = n, x
	nt := n * t
	k.g = grow(k.g, nt*gu)
	kernels.Sgemm(false, false, nt, gu, k.f, 1, x.Data, k.f, k.kernel.Value.Data, gu, 0, k.g, gu)
	if k.bias != nil {
		kernels.ParallelFor(nt, k.rowGrain(), k.biasFn)
	}
	if k.sepRec {
		k.rec = grow(k.rec, nt*gu)
	}
	k.hs = grow(k.hs, nt*u)
	k.hprev = grow(k.hprev, nt*u)
	if k.cells {
		k.cs = grow(k.cs, nt*u)
		k.tc = grow(k.tc, nt*u)
	}
	k.mask = k.mask[:0]
	if k.o.Masking {
		k.mask = grow(k.mask, nt)
		for r := range k.mask {
			pad := true
			for _, v := range x.Data[r*k.f : (r+1)*k.f] {
				if v != 0 {
					pad = false
					break
				}
			}
			k.mask[r] = pad
		}
	}
	// The state before the first step is zero.
	ti0 := k.step(0)
	for i := 0; i < n; i++ {
		clear(k.hprev[(i*t+ti0)*u : (i*t+ti0+1)*u])
	}
	for s := 0; s < t; s++ {
		ti := k.step(s)
		if k.sepRec {
			rec := k.rec[ti*gu:]
			if s == 0 {
				for i := 0; i < n; i++ {
					clear(rec[i*t*gu : i*t*gu+gu])
				}
			} else {
				kernels.Sgemm(false, false, n, gu, u, 1, k.hprev[ti*u:], t*u, k.recKernel.Value.Data, gu, 0, rec, t*gu)
			}
			if k.bias != nil {
				b := k.bias.Value.Data[gu : 2*gu]
				for i := 0; i < n; i++ {
					row := rec[i*t*gu : i*t*gu+gu]
					for j, v := range b {
						row[j] += v
					}
				}
			}
		} else if s > 0 {
			kernels.Sgemm(false, false, n, gu, u, 1, k.hprev[ti*u:], t*u, k.recKernel.Value.Data, gu, 1, k.g[ti*gu:], t*gu)
		}
		k.s, k.ti = s, ti
		kernels.ParallelFor(n, k.rowGrain(), k.fwdFn)
	}
	if k.o.ReturnSequences {
		if !(k.zeroMasked && k.o.Masking) {
			// The states are the outputs: a view, no copy.
			k.seq.Shape = append(k.seq.Shape[:0], n, t, u)
			k.seq.Data = k.hs[:nt*u]
			return &k.seq
		}
		out := tensor.Ensure(&k.out, n, t, u)
		copy(out.Data, k.hs)
		for i := 0; i < n; i++ {
			for s := 0; s < t; s++ {
				if k.mask[i*t+k.step(s)] {
					clear(out.Data[(i*t+s)*u : (i*t+s+1)*u])
				}
			}
		}
		return out
	}
	out := tensor.Ensure(&k.out, n, u)
	for i := 0; i < n; i++ {
		copy(out.Data[i*u:(i+1)*u], k.hs[(i*t+t-1)*u:(i*t+t)*u])
	}
	return out
}

// addInputBias adds the (input) bias to rows [lo, hi) of g.
func (k *recurrent) addInputBias(lo, hi int) {
	gu := k.gu
	b := k.bias.Value.Data[:gu]
	for r := lo; r < hi; r++ {
		row := k.g[r*gu : (r+1)*gu]
		row = row[:len(b)]
		for j, v := range b {
			row[j] += v
		}
	}
}

// forwardRows is the cell's step on rows [lo, hi), then the masking and
// the next step's previous state.
func (k *recurrent) forwardRows(lo, hi int) {
	s, ti, t, u := k.s, k.ti, k.t, k.u
	k.cell.forward(k, s, ti, lo, hi)
	for i := lo; i < hi; i++ {
		h := k.hs[(i*t+s)*u : (i*t+s+1)*u]
		if len(k.mask) > 0 && k.mask[i*t+ti] {
			// Padding: the state is carried over.
			copy(h, k.hprev[(i*t+ti)*u:(i*t+ti+1)*u])
			if k.cells {
				c := k.cs[(i*t+s)*u : (i*t+s+1)*u]
				if s == 0 {
					clear(c)
				} else {
					copy(c, k.cs[(i*t+s-1)*u:(i*t+s)*u])
				}
			}
		}
		if s+1 < t {
			nt := k.step(s + 1)
			copy(k.hprev[(i*t+nt)*u:(i*t+nt+1)*u], h)
		}
	}
}

// backward takes dL/dout of the last forward and returns dL/dx, setting
// the parameters' gradients.
func (k *recurrent) backward(dOut *tensor.Tensor) *tensor.Tensor {
	n, t, u, gu := k.n, k.t, k.u, k.gu
	nt := n * t
	k.dg = grow(k.dg, nt*gu)
	if k.sepRec {
		k.drec = grow(k.drec, nt*gu)
	} else {
		k.drec = k.dg
	}
	k.dh = grow(k.dh, n*u)
	clear(k.dh)
	if k.cells {
		k.dc = grow(k.dc, n*u)
		clear(k.dc)
	}
	k.dOut = dOut
	for s := t - 1; s >= 0; s-- {
		ti := k.step(s)
		k.s, k.ti = s, ti
		kernels.ParallelFor(n, k.rowGrain(), k.bwdFn)
		if s > 0 {
			kernels.Sgemm(false, true, n, u, gu, 1, k.drec[ti*gu:], t*gu, k.recKernel.Value.Data, gu, 1, k.dh, u)
		}
	}
	k.dOut = nil
	kernels.Sgemm(true, false, k.f, gu, nt, 1, k.x.Data, k.f, k.dg, gu, 0, k.kernel.Grad.Data, gu)
	kernels.Sgemm(true, false, u, gu, nt, 1, k.hprev, u, k.drec, gu, 0, k.recKernel.Grad.Data, gu)
	if k.bias != nil {
		db := k.bias.Grad.Data
		colSums(db[:gu], k.dg, nt, gu)
		if k.sepRec {
			colSums(db[gu:2*gu], k.drec, nt, gu)
		}
	}
	dx := tensor.Ensure(&k.dx, n, t, k.f)
	kernels.Sgemm(false, true, nt, k.f, gu, 1, k.dg, gu, k.kernel.Value.Data, gu, 0, dx.Data, k.f)
	return dx
}

// colSums sets db to the column sums of the rows x cols matrix d, each
// column summed in row order (serial, float32), as Dense's bias gradient.
func colSums(db, d []float32, rows, cols int) {
	clear(db)
	for r := 0; r < rows; r++ {
		row := d[r*cols : (r+1)*cols]
		row = row[:len(db)]
		for j, v := range row {
			db[j] += v
		}
	}
}

// backwardRows adds the output's gradient at step s to the state's, runs
// the cell's step backward on rows [lo, hi), and passes the gradient of a
// padding step's state on unchanged.
func (k *recurrent) backwardRows(lo, hi int) {
	s, ti, t, u, gu := k.s, k.ti, k.t, k.u, k.gu
	d := k.dOut.Data
	for i := lo; i < hi; i++ {
		masked := len(k.mask) > 0 && k.mask[i*t+ti]
		var g []float32
		switch {
		case k.o.ReturnSequences && !(masked && k.zeroMasked):
			g = d[(i*t+s)*u : (i*t+s+1)*u]
		case !k.o.ReturnSequences && s == t-1:
			g = d[i*u : (i+1)*u]
		}
		if g != nil {
			dh := k.dh[i*u : (i+1)*u]
			g = g[:len(dh)]
			for j, v := range g {
				dh[j] += v
			}
		}
	}
	if len(k.mask) == 0 {
		k.cell.backward(k, s, ti, lo, hi)
		return
	}
	// Runs of unmasked rows go to the cell; padding rows get zero gate
	// gradients and keep dh (dc) as they are.
	for i := lo; i < hi; {
		j := i
		for j < hi && !k.mask[j*t+ti] {
			j++
		}
		if j > i {
			k.cell.backward(k, s, ti, i, j)
		}
		for ; j < hi && k.mask[j*t+ti]; j++ {
			clear(k.dg[(j*t+ti)*gu : (j*t+ti+1)*gu])
			if k.sepRec {
				clear(k.drec[(j*t+ti)*gu : (j*t+ti+1)*gu])
			}
		}
		i = j
	}
}
