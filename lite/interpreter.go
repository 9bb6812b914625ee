package lite

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/tensor"
)

// kernel is an op prepared for one interpreter: its constants computed,
// reading and writing the interpreter's buffers.
type kernel interface {
	// alloc sizes the kernel's scratch for batches of up to n samples.
	alloc(n int)
	// run computes the op for a batch of n samples.
	run(n int)
}

// Interpreter runs an integer model. Allocate sizes its buffers once;
// Invoke then runs without allocating. An interpreter is not safe for
// concurrent use: use one per goroutine (they may share the Model, which
// they do not modify; Clone makes one that also shares the packed weights).
type Interpreter struct {
	m       *Model
	i8      [][]int8    // per tensor, int8 tensors
	f32     [][]float32 // per tensor, float32 tensors
	kernels []kernel
	capN    int // batch the buffers hold
	n       int // batch of the current inputs
	set     []bool
	outF    []tensor.Tensor
	outI    []tensor.Int8

	// threads caps the parts of each op and the shares of a split batch
	// (0: threads.N() at each Invoke); the shares run with 1.
	threads int
	split   batchSplit

	plan *bounds.Plan // the model's resource plan (docs/RELIABILITY.md, Resource bounds)

	// The activation arena (arena.go): shared buffers of the
	// intermediate tensors, unless keep gives every tensor its own.
	arena  *arena
	fusion *addFusion // the Adds run inside convolutions (fuseadd.go)
	keep   bool
	buf8   [][]int8
	buf32  [][]float32
}

// NewInterpreter validates m and prepares its ops. The model must not be
// modified while interpreters use it.
func NewInterpreter(m *Model) (*Interpreter, error) {
	if m == nil {
		return nil, fmt.Errorf("lite: nil model")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	plan := m.resources(false)
	if err := plan.Check(fmt.Sprintf("lite: model %q", m.Name)); err != nil {
		return nil, err
	}
	fusion := planAddFusion(m)
	it := &Interpreter{
		m:      m,
		plan:   plan,
		fusion: fusion,
		arena:  planArena(m, fusion),
		i8:     make([][]int8, len(m.Tensors)),
		f32:    make([][]float32, len(m.Tensors)),
		set:    make([]bool, len(m.Inputs)),
		outF:   make([]tensor.Tensor, len(m.Outputs)),
		outI:   make([]tensor.Int8, len(m.Outputs)),
	}
	if err := it.prepareAll(); err != nil {
		return nil, err
	}
	return it, nil
}

// prepareAll builds the kernels of every op.
func (it *Interpreter) prepareAll() error {
	it.kernels = it.kernels[:0]
	for k := range it.m.Ops {
		kn, err := it.prepareAt(k)
		if err != nil {
			return fmt.Errorf("lite: op %d (%s %q): %w", k, it.m.Ops[k].Type, it.m.Ops[k].Name, err)
		}
		it.kernels = append(it.kernels, kn)
	}
	return nil
}

// prepareAt builds the kernel of op k, with the interpreter's Add fusion:
// a fused Add does nothing, its convolution runs it.
func (it *Interpreter) prepareAt(k int) (kernel, error) {
	if it.fusion.into[k] >= 0 {
		return nopKernel{}, nil
	}
	kn, err := it.prepare(&it.m.Ops[k])
	if err != nil {
		return nil, err
	}
	if j := it.fusion.add[k]; j >= 0 {
		fa, err := newFusedAdd(it, j)
		if err != nil {
			return nil, err
		}
		kn.(*convKernel).fuse(fa)
	}
	return kn, nil
}

// Clone returns a new interpreter of the same model that shares this
// one's prepared, read-only state (packed weights, output stages) and its
// thread cap (SetThreads) but none of its buffers: the way to give each
// goroutine its own interpreter without packing the weights again. Its
// buffers are sized on first use (or by Allocate).
func (it *Interpreter) Clone() *Interpreter {
	c := &Interpreter{
		m:       it.m,
		i8:      make([][]int8, len(it.m.Tensors)),
		f32:     make([][]float32, len(it.m.Tensors)),
		set:     make([]bool, len(it.m.Inputs)),
		outF:    make([]tensor.Tensor, len(it.m.Outputs)),
		outI:    make([]tensor.Int8, len(it.m.Outputs)),
		threads: it.threads,
		plan:    it.plan,
		arena:   it.arena,
		fusion:  it.fusion,
		keep:    it.keep,
	}
	c.kernels = c.shareKernels(it)
	return c
}

// KeepTensors gives every tensor of the model a buffer of its own, so
// that TensorInt8 shows each intermediate tensor's values after Invoke
// (to compare a model layer by layer); by default the intermediate
// tensors share buffers by liveness and a tensor's buffer may hold a
// later tensor's values. It costs memory (the sum of all tensors, not of
// the live ones), and it drops the buffers and the inputs already set:
// call it before SetInput.
func (it *Interpreter) KeepTensors() {
	if it.keep {
		return
	}
	it.keep = true
	it.capN, it.n = 0, 0
	clear(it.set)
	clear(it.i8)
	clear(it.f32)
	it.buf8, it.buf32 = nil, nil
	it.split = batchSplit{}
	// Every op writes its own output: no Add runs inside a convolution.
	it.fusion, it.arena = noFusion(len(it.m.Ops)), planArena(it.m, nil)
	if err := it.prepareAll(); err != nil {
		panic(err) // NewInterpreter prepared the same ops
	}
}

// shareKernels prepares it's ops for c, sharing what the kernels allow.
func (c *Interpreter) shareKernels(it *Interpreter) []kernel {
	ks := make([]kernel, len(it.kernels))
	for k, kn := range it.kernels {
		if sh, ok := kn.(sharer); ok {
			ks[k] = sh.shareWith(c)
			continue
		}
		var err error
		if ks[k], err = c.prepareAt(k); err != nil {
			panic(err) // it prepared the same op
		}
	}
	return ks
}

// SetThreads caps the threads of this interpreter's Invoke at n: at most
// n parts per op, and a large batch split into at most n shares; n = 0
// (the default) follows the process setting, threads.N() of package
// github.com/goqat/goqat/threads, at each Invoke. n may be above that
// setting. Results do not depend on it. It prepares the ops again (sharing
// the packed weights) and sizes their scratch for the current batch, so it
// allocates: call it once, before the Invokes. Clone copies the cap.
func (it *Interpreter) SetThreads(n int) {
	n = max(0, n)
	if n == it.threads {
		return
	}
	it.threads = n
	it.kernels = it.shareKernels(it)
	if it.capN > 0 {
		for _, k := range it.kernels {
			k.alloc(it.capN)
		}
		it.split.alloc(it, it.capN)
	}
}

// Threads returns the interpreter's thread cap set by SetThreads; 0 means
// the process setting, threads.N().
func (it *Interpreter) Threads() int { return it.threads }

// Model returns the interpreter's model.
func (it *Interpreter) Model() *Model { return it.m }

// prepare builds the kernel of one op.
func (it *Interpreter) prepare(op *Op) (kernel, error) {
	if it.m.Rounding != RoundingGoqat {
		if k, ok, err := it.prepareTFLite(op); ok {
			return k, err
		}
	}
	switch op.Type {
	case OpConv2D:
		return newConv(it, op)
	case OpDepthwiseConv2D:
		return newDepthwise(it, op)
	case OpFullyConnected:
		return newFullyConnected(it, op)
	case OpAdd:
		return newAdd(it, op)
	case OpConcatenation:
		return newConcat(it, op)
	case OpMaxPool:
		return newMaxPool(it, op), nil
	case OpAveragePool:
		return newAvgPool(it, op), nil
	case OpGlobalAveragePool:
		return newGlobalAvgPool(it, op), nil
	case OpReshape:
		return &reshapeKernel{it: it, in: op.Inputs[0], out: op.Output, size: it.size(op.Output)}, nil
	case OpPad:
		return newPad(it, op), nil
	case OpSoftmax:
		return newSoftmax(it, op)
	case OpLogistic, OpTanh, OpHardSwish, OpHardSigmoid, OpSiLU:
		return newLUT(it, op)
	case OpMul:
		return newMul(it, op)
	case OpGlobalMaxPool:
		return newGlobalMaxPool(it, op), nil
	case OpSlice:
		return newSlice(it, op), nil
	case OpLSTM, OpSimpleRNN, OpGRU:
		return newLSTM(it, op)
	case OpEmbedding:
		return newEmbedding(it, op), nil
	case OpBidirectionalConcat:
		return newBidiConcat(it, op), nil
	case OpQuantize:
		return newQuantize(it, op), nil
	case OpDequantize:
		return newDequantize(it, op), nil
	}
	return nil, fmt.Errorf("unknown op type %q", op.Type)
}

// size is the per-sample element count of tensor i.
func (it *Interpreter) size(i int) int { return it.m.Tensors[i].Shape.Size() }

// Allocate sizes every buffer for batches of up to n samples. SetInput
// calls it when a larger batch arrives; call it once up front to keep
// Invoke allocation-free from the first call. A batch whose planned
// memory (Model.InferenceBytes) is over limits.MaxMemory is refused.
func (it *Interpreter) Allocate(n int) error {
	if n < 1 {
		return fmt.Errorf("lite: batch %d, want at least 1", n)
	}
	if n <= it.capN {
		return nil
	}
	if it.plan != nil { // nil only for a share of a split batch, which never allocates here
		plan := it.plan
		if it.keep {
			plan = it.m.resources(true)
		}
		if err := plan.CheckBatch(fmt.Sprintf("lite: model %q", it.m.Name), n); err != nil {
			return err
		}
	}
	it.allocTensors(n)
	for _, k := range it.kernels {
		k.alloc(n)
	}
	it.capN = n
	it.split.alloc(it, n)
	return nil
}

// allocTensors sizes the tensors' buffers for n samples: the arena's
// shared buffers for the intermediate tensors (unless it keeps them all)
// and a buffer for each other tensor. The shares of a split batch take
// windows on them (batchSplit.use).
func (it *Interpreter) allocTensors(n int) {
	a := it.arena
	if !it.keep {
		it.buf8, it.buf32 = make([][]int8, len(a.size)), make([][]float32, len(a.size))
		for s, size := range a.size {
			if a.f32[s] {
				it.buf32[s] = make([]float32, n*size)
			} else {
				it.buf8[s] = make([]int8, n*size)
			}
		}
	}
	for i := range it.m.Tensors {
		t := &it.m.Tensors[i]
		size := n * t.Shape.Size()
		switch s := a.slot[i]; {
		case a.unused[i] && !it.keep:
			it.i8[i], it.f32[i] = nil, nil // never written
		case s >= 0 && !it.keep && t.DType == Int8:
			it.i8[i] = it.buf8[s][:size]
		case s >= 0 && !it.keep:
			it.f32[i] = it.buf32[s][:size]
		case t.DType == Int8:
			it.i8[i] = make([]int8, size)
		default:
			it.f32[i] = make([]float32, size)
		}
	}
}

// shared reports whether tensor i lives in the arena.
func (it *Interpreter) shared(i int) bool { return !it.keep && it.arena.slot[i] >= 0 }

// checkInput validates an input's index and per-sample shape and returns
// the batch.
func (it *Interpreter) checkInput(i int, shape tensor.Shape, dt DType, size int) (int, error) {
	if i < 0 || i >= len(it.m.Inputs) {
		return 0, fmt.Errorf("lite: input %d of a model with %d inputs", i, len(it.m.Inputs))
	}
	t := &it.m.Tensors[it.m.Inputs[i]]
	if dt == Int8 && t.DType != Int8 {
		return 0, fmt.Errorf("lite: input %d (%q) is float32; pass a float tensor (SetInput)", i, t.Name)
	}
	if len(shape) != len(t.Shape)+1 || !shape[1:].Equal(t.Shape) || shape[0] < 1 {
		return 0, fmt.Errorf("lite: input %d (%q) has shape %v, want (N, %v)", i, t.Name, shape, t.Shape.String()[1:len(t.Shape.String())-1])
	}
	if size != shape.Size() {
		return 0, fmt.Errorf("lite: input %d: %d values for shape %v", i, size, shape)
	}
	n := shape[0]
	if err := it.setBatch(i, n); err != nil {
		return 0, err
	}
	return n, nil
}

// setBatch records the batch of input i; all inputs must agree.
func (it *Interpreter) setBatch(i, n int) error {
	for j, s := range it.set {
		if s && j != i && n != it.n {
			return fmt.Errorf("lite: input %d has batch %d, but input %d has %d", i, n, j, it.n)
		}
	}
	if err := it.Allocate(n); err != nil {
		return err
	}
	it.n = n
	it.set[i] = true
	return nil
}

// SetInput copies a float batch (N, shape...) into input i. For an int8
// input (a full-integer model) the values are quantized with the input's
// scale and zero point, exactly as the QAT model's input quantizer does.
func (it *Interpreter) SetInput(i int, x *tensor.Tensor) error {
	if x == nil {
		return fmt.Errorf("lite: input %d is nil", i)
	}
	n, err := it.checkInput(i, x.Shape, Float32, len(x.Data))
	if err != nil {
		return err
	}
	idx := it.m.Inputs[i]
	t := &it.m.Tensors[idx]
	if t.DType == Float32 {
		copy(it.f32[idx], x.Data)
		return nil
	}
	quantizeFloats(x.Data, it.i8[idx][:n*t.Shape.Size()], t)
	return nil
}

// SetInputInt8 copies an int8 batch (N, shape...) into input i, which must
// be int8 (a model converted with FullInteger).
func (it *Interpreter) SetInputInt8(i int, x *tensor.Int8) error {
	if x == nil {
		return fmt.Errorf("lite: input %d is nil", i)
	}
	if _, err := it.checkInput(i, x.Shape, Int8, len(x.Data)); err != nil {
		return err
	}
	idx := it.m.Inputs[i]
	qmin, qmax := it.m.Tensors[idx].QRange()
	for j, v := range x.Data {
		if int32(v) < qmin || int32(v) > qmax {
			return fmt.Errorf("lite: input %d value %d outside the %d-bit range", i, v, it.m.Tensors[idx].Bits)
		}
		it.i8[idx][j] = v
	}
	return nil
}

// Invoke runs the model on the inputs set last. It does not allocate once
// the buffers are sized for the batch.
func (it *Interpreter) Invoke() error { return it.InvokeContext(context.Background()) }

// InvokeContext is Invoke that stops between ops, with the context's
// error, when ctx is done (the outputs are then meaningless). A batch split
// across threads stops likewise: each share checks ctx between its ops.
// With a context that is never done (context.Background) it is Invoke.
func (it *Interpreter) InvokeContext(ctx context.Context) error {
	for j, s := range it.set {
		if !s {
			return fmt.Errorf("lite: input %d was not set", j)
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	done := ctx.Done()
	it.split.done = done
	if it.split.use(it) {
		it.split.done = nil
		return ctx.Err()
	}
	for _, k := range it.kernels {
		if done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		k.run(it.n)
	}
	return nil
}

// Batch is the batch size of the current inputs.
func (it *Interpreter) Batch() int { return it.n }

// Output returns output i of the last Invoke as float32 values (N,
// shape...); an int8 output is dequantized. The tensor is owned by the
// interpreter and valid until the next Invoke. It returns nil if i is not
// an output index.
func (it *Interpreter) Output(i int) *tensor.Tensor {
	if i < 0 || i >= len(it.m.Outputs) {
		return nil
	}
	idx := it.m.Outputs[i]
	t := &it.m.Tensors[idx]
	o := &it.outF[i]
	o.Shape = append(append(o.Shape[:0], it.n), t.Shape...)
	size := it.n * t.Shape.Size()
	if t.DType == Float32 {
		o.Data = it.f32[idx][:size]
		return o
	}
	if cap(o.Data) < it.capN*t.Shape.Size() {
		o.Data = make([]float32, it.capN*t.Shape.Size())
	}
	o.Data = o.Data[:size]
	dequantizeInts(it.i8[idx][:size], o.Data, t)
	return o
}

// OutputInt8 returns the int8 codes of output i of the last Invoke (N,
// shape...). For a float output (the default conversion, which ends with
// Dequantize) it returns the int8 tensor the Dequantize reads. The tensor
// is owned by the interpreter and valid until the next Invoke. It returns
// nil if i is not an output index.
func (it *Interpreter) OutputInt8(i int) *tensor.Int8 {
	if i < 0 || i >= len(it.m.Outputs) {
		return nil
	}
	idx := it.m.Outputs[i]
	if it.m.Tensors[idx].DType == Float32 {
		for k := range it.m.Ops {
			if op := &it.m.Ops[k]; op.Output == idx && op.Type == OpDequantize {
				idx = op.Inputs[0]
			}
		}
	}
	return it.TensorInt8(idx, &it.outI[i])
}

// TensorInt8 returns a view of int8 tensor idx of the model after the
// last Invoke (N, shape...), in dst if not nil; nil for a float tensor or
// an index out of range. An intermediate tensor's buffer may have been
// reused by a later tensor (see KeepTensors); inputs and outputs are
// always their own.
func (it *Interpreter) TensorInt8(idx int, dst *tensor.Int8) *tensor.Int8 {
	if idx < 0 || idx >= len(it.m.Tensors) {
		return nil
	}
	t := &it.m.Tensors[idx]
	if t.DType != Int8 || it.i8[idx] == nil && it.capN > 0 {
		return nil // a float tensor, or a fused convolution's own output
	}
	if dst == nil {
		dst = &tensor.Int8{}
	}
	dst.Shape = append(append(dst.Shape[:0], it.n), t.Shape...)
	dst.Data = it.i8[idx][:it.n*t.Shape.Size()]
	return dst
}
