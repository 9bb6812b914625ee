package lite

import "github.com/goqat/goqat/internal/qkernels"

// A residual Add fused into the convolution that produces one of its
// inputs (docs/DESIGN.md, Runtime and kernels): the convolution's GEMM
// runs the Add on each output row while the row is in its thread's cache
// (qkernels.Gemm.SetPost), writing the Add's output, and the Add op does
// nothing. The codes are those of the two ops one after the other: the
// convolution's requantized codes, then the Add's arithmetic on them. The
// convolution's own output tensor is never written, so an interpreter
// that keeps every tensor (KeepTensors) does not fuse.

// addFusion maps each fused Add op to the Conv2D that runs it, and back.
type addFusion struct {
	into []int // per op: for a fused Add, its convolution; else -1
	add  []int // per op: for a convolution running an Add, the Add; else -1
}

// planAddFusion finds the Adds of a valid model that fuse: an Add of two
// int8 tensors of one shape, one of them the output of a Conv2D (one
// group, no dilation) that nothing else reads and that is not a model
// output, the other ready before the convolution runs (a model input, or
// produced by an earlier op).
func planAddFusion(m *Model) *addFusion {
	if m.Rounding != RoundingGoqat {
		return noFusion(len(m.Ops)) // its Adds and convolutions run on their own kernels
	}
	f := &addFusion{into: make([]int, len(m.Ops)), add: make([]int, len(m.Ops))}
	readers := make([]int, len(m.Tensors))
	producer := make([]int, len(m.Tensors))
	for i := range producer {
		producer[i] = -1
	}
	for k := range m.Ops {
		f.into[k], f.add[k] = -1, -1
		producer[m.Ops[k].Output] = k
		for _, i := range m.Ops[k].Inputs {
			readers[i]++
		}
	}
	for _, i := range m.Outputs {
		readers[i]++
	}
	for j := range m.Ops {
		op := &m.Ops[j]
		if op.Type != OpAdd || len(op.Inputs) != 2 || op.Inputs[0] == op.Inputs[1] {
			continue
		}
		for side, t := range op.Inputs {
			k, r := producer[t], op.Inputs[1-side]
			if k < 0 || f.add[k] >= 0 || readers[t] != 1 || producer[r] >= k {
				continue
			}
			c := &m.Ops[k]
			if c.Type != OpConv2D || max(c.Groups, 1) > 1 || max(c.Dilation[0], 1) > 1 || max(c.Dilation[1], 1) > 1 {
				continue
			}
			tt, tr, ty := &m.Tensors[t], &m.Tensors[r], &m.Tensors[op.Output]
			if tt.DType != Int8 || tr.DType != Int8 || ty.DType != Int8 || !tt.Shape.Equal(tr.Shape) || !tt.Shape.Equal(ty.Shape) {
				continue
			}
			f.into[j], f.add[k] = k, j
			break
		}
	}
	return f
}

// addOf returns the Add op k runs, -1 if none (or f is nil).
func (f *addFusion) addOf(k int) int {
	if f == nil {
		return -1
	}
	return f.add[k]
}

// fusedAdd is the Add a convolution kernel runs on its output rows.
type fusedAdd struct {
	y, r   int // the Add's output and its other input
	rFirst bool
	p      *qkernels.AddParams
}

// newFusedAdd prepares the Add op j for the convolution whose output is
// one of its inputs.
func newFusedAdd(it *Interpreter, j int) (*fusedAdd, error) {
	op := &it.m.Ops[j]
	ak, err := newAdd(it, op)
	if err != nil {
		return nil, err
	}
	conv := &it.m.Ops[it.fusion.into[j]]
	fa := &fusedAdd{y: op.Output, p: ak.p}
	if conv.Output == op.Inputs[0] { // Add(conv, r)
		fa.r = op.Inputs[1]
	} else { // Add(r, conv)
		fa.r, fa.rFirst = op.Inputs[0], true
	}
	return fa, nil
}

// rows returns the post hook of a GEMM writing tensor y of it: the Add on
// y[off:off+n] and the residual's same values, in place.
func (fa *fusedAdd) rows(it *Interpreter) func(off, n int) {
	return func(off, n int) {
		y := it.i8[fa.y][off : off+n]
		r := it.i8[fa.r][off : off+n]
		if fa.rFirst {
			qkernels.AddRows(y, r, y, fa.p)
		} else {
			qkernels.AddRows(y, y, r, fa.p)
		}
	}
}

// nopKernel is a fused op's kernel: its work happens in another op's.
type nopKernel struct{}

func (nopKernel) alloc(int)                     {}
func (nopKernel) run(int)                       {}
func (nopKernel) shareWith(*Interpreter) kernel { return nopKernel{} }

// noFusion is the plan of an interpreter that fuses nothing.
func noFusion(ops int) *addFusion {
	f := &addFusion{into: make([]int, ops), add: make([]int, ops)}
	for k := range f.into {
		f.into[k], f.add[k] = -1, -1
	}
	return f
}
