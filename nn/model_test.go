package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// testScale is a test-only custom layer: out = x * w + b per feature (w, b
// shaped like one sample). It records the Context.Step of its last Forward
// and is registered as "TestScale" to test custom layers in save/load.
type testScale struct {
	Base
	Offset float32 // a config value, added to the output

	w, b     *Param
	x, out   *tensor.Tensor
	dx       *tensor.Tensor
	dxs      [1]*tensor.Tensor
	lastStep int
}

type testScaleConfig struct {
	Offset float32 `json:"offset"`
}

func init() {
	Register("TestScale", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg testScaleConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		l := &testScale{Offset: cfg.Offset}
		l.SetName(name)
		return l, nil
	})
}

func (l *testScale) Type() string { return "TestScale" }
func (l *testScale) Config() any  { return testScaleConfig{Offset: l.Offset} }
func (l *testScale) Params() []*Param {
	if l.w == nil {
		return nil
	}
	return []*Param{l.w, l.b}
}

func (l *testScale) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("TestScale wants 1 input, got %d", len(in))
	}
	l.w = NewParam("w", true, in[0]...)
	l.b = NewParam("b", true, in[0]...)
	return in[0].Clone(), nil
}

func (l *testScale) InitWeights(r *rand.Rand) {
	for i := range l.w.Value.Data {
		l.w.Value.Data[i] = float32(r.NormFloat64())
		l.b.Value.Data[i] = 0
	}
}

// Forward: x (N, ...) -> out (N, ...) = x*w + b + Offset.
func (l *testScale) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	l.lastStep = c.Step
	l.x = in[0]
	out := tensor.Ensure(&l.out, l.x.Shape...)
	per := len(l.w.Value.Data)
	for i, v := range l.x.Data {
		out.Data[i] = v*l.w.Value.Data[i%per] + l.b.Value.Data[i%per] + l.Offset
	}
	return out
}

// Backward: dw = sum over batch of dOut*x, db = sum of dOut, dx = dOut*w.
func (l *testScale) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	per := len(l.w.Value.Data)
	l.w.Grad.Zero()
	l.b.Grad.Zero()
	dx := tensor.Ensure(&l.dx, dOut.Shape...)
	for i, d := range dOut.Data {
		l.w.Grad.Data[i%per] += d * l.x.Data[i]
		l.b.Grad.Data[i%per] += d
		dx.Data[i] = d * l.w.Value.Data[i%per]
	}
	l.dxs[0] = dx
	return l.dxs[:]
}

// testSum is a test-only two-input layer: out = a + b; dIn aliases dOut.
type testSum struct {
	Base
	out *tensor.Tensor
	dxs [2]*tensor.Tensor
}

func (l *testSum) Type() string     { return "TestSum" }
func (l *testSum) Config() any      { return struct{}{} }
func (l *testSum) Params() []*Param { return nil }
func (l *testSum) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 2 || !in[0].Equal(in[1]) {
		return nil, errors.New("TestSum wants two inputs of one shape")
	}
	return in[0].Clone(), nil
}
func (l *testSum) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	out := tensor.Ensure(&l.out, in[0].Shape...)
	for i := range out.Data {
		out.Data[i] = in[0].Data[i] + in[1].Data[i]
	}
	return out
}
func (l *testSum) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	l.dxs[0], l.dxs[1] = dOut, dOut
	return l.dxs[:]
}

// randTensor returns a tensor of standard normal values.
func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// must returns a function that fails the test on a model-building error:
// must(t)(NewSequential(...)).
func must(t *testing.T) func(*Model, error) *Model {
	return func(m *Model, err error) *Model {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

func TestDefaultName(t *testing.T) {
	for typ, want := range map[string]string{
		"Conv2D":                 "conv2d",
		"BatchNormalization":     "batch_normalization",
		"ReLU":                   "re_lu",
		"ReLU6":                  "re_lu6",
		"MaxPooling2D":           "max_pooling2d",
		"AveragePooling2D":       "average_pooling2d",
		"GlobalAveragePooling2D": "global_average_pooling2d",
		"DepthwiseConv2D":        "depthwise_conv2d",
		"SeparableConv2D":        "separable_conv2d",
		"ZeroPadding2D":          "zero_padding2d",
		"Dense":                  "dense",
		"Add":                    "add",
		"TestScale":              "test_scale",
		"_Private":               "private__private", // as Keras
	} {
		if got := DefaultName(typ); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", typ, got, want)
		}
	}
}

func TestModelNames(t *testing.T) {
	m := must(t)(NewSequential(tensor.Shape{4}, NewDense(3), NewReLU(), NewDense(3), NewBatchNormalization(), NewDense(2)))
	var names []string
	for _, l := range m.Layers() {
		names = append(names, l.Name())
	}
	if got := strings.Join(names, " "); got != "dense re_lu dense_1 batch_normalization dense_2" {
		t.Errorf("names %q", got)
	}
	if m.Name() != "sequential" || m.Layer("dense_1") == nil || m.Layer("dense_9") != nil {
		t.Errorf("Name %q, Layer lookups wrong", m.Name())
	}
	// Counters are per model; explicit names are kept and skipped.
	d := NewDense(3)
	d.SetName("dense_1")
	m2 := must(t)(NewSequential(tensor.Shape{4}, NewDense(3), d, NewDense(2), NewDense(2)))
	names = names[:0]
	for _, l := range m2.Layers() {
		names = append(names, l.Name())
	}
	if got := strings.Join(names, " "); got != "dense dense_1 dense_2 dense_3" {
		t.Errorf("names with an explicit one: %q", got)
	}
	// Duplicate explicit names.
	a, b := NewDense(3), NewDense(3)
	a.SetName("x")
	b.SetName("x")
	if _, err := NewSequential(tensor.Shape{4}, a, b); err == nil || !strings.Contains(err.Error(), `duplicate name "x"`) {
		t.Errorf("duplicate names: %v", err)
	}
	// Functional: inputs named input_1, input_2; default model name.
	x1, x2 := Input(4), Input(4)
	y := Call(NewAdd(), x1, x2)
	fm := must(t)(NewModel([]*Node{x1, x2}, []*Node{y}))
	if fm.Name() != "model" || strings.Join(fm.InputNames(), ",") != "input_1,input_2" || strings.Join(fm.Inbound("add"), ",") != "input_1,input_2" {
		t.Errorf("functional names: %q %v %v", fm.Name(), fm.InputNames(), fm.Inbound("add"))
	}
	if fm.Sequential() || !m.Sequential() {
		t.Errorf("Sequential flags wrong")
	}
	if got := fm.OutputNames(); len(got) != 1 || got[0] != "add" {
		t.Errorf("OutputNames %v", got)
	}
}

func TestGraphErrors(t *testing.T) {
	x := Input(4)
	d := NewDense(3)
	h := Call(d, x)
	again := Call(d, h)
	if again.Err() == nil || !strings.Contains(again.Err().Error(), `layer "dense" (Dense) is already used in this graph; shared layers are not supported`) {
		t.Errorf("reuse: %v", again.Err())
	}
	// A parameterless layer used twice in separate branches.
	r := NewReLU()
	b1 := Call(r, x)
	b2 := Call(r, h)
	if b2.Err() != nil {
		// Detected at Call when in the ancestry; otherwise at NewModel.
		t.Logf("reuse across branches caught early: %v", b2.Err())
	} else if _, err := NewModel([]*Node{x}, []*Node{b1, b2}); err == nil || !strings.Contains(err.Error(), "shared layers are not supported") {
		t.Errorf("reuse across branches: %v", err)
	}
	// Errors propagate down the chain to NewModel.
	bad := Call(NewDense(2), Input(2, 3)) // Dense needs rank 1
	chained := Call(NewReLU(), bad)
	if _, err := NewModel([]*Node{x}, []*Node{chained}); err == nil || !strings.Contains(err.Error(), "rank 1") {
		t.Errorf("build error: %v", err)
	}
	if n := Input(); n.Err() == nil {
		t.Errorf("Input() without shape accepted")
	}
	if n := Input(3, 0); n.Err() == nil {
		t.Errorf("Input(3, 0) accepted")
	}
	if n := Call(nil, x); n.Err() == nil {
		t.Errorf("Call(nil) accepted")
	}
	if n := Call(NewReLU(), nil); n.Err() == nil {
		t.Errorf("Call with nil input accepted")
	}
	if n := Call(NewReLU()); n.Err() == nil {
		t.Errorf("Call without inputs accepted")
	}
	x2 := Input(4)
	y := Call(NewDense(2), x)
	for _, c := range []struct {
		name    string
		in, out []*Node
		want    string
	}{
		{"no inputs", nil, []*Node{y}, "no inputs"},
		{"no outputs", []*Node{x}, nil, "no outputs"},
		{"nil input", []*Node{nil}, []*Node{y}, "input 0 is nil"},
		{"nil output", []*Node{x}, []*Node{nil}, "output 0 is nil"},
		{"input not Input", []*Node{y}, []*Node{y}, "not an Input"},
		{"duplicate input", []*Node{x, x}, []*Node{y}, "same node"},
		{"unconnected input", []*Node{x, x2}, []*Node{y}, "input 1 (shape (4,)) is not connected to any output"},
		{"missing input", []*Node{x2}, []*Node{y}, "not among the model's inputs"},
	} {
		if _, err := NewModel(c.in, c.out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := NewSequential(tensor.Shape{4}); err == nil {
		t.Errorf("empty Sequential accepted")
	}
	if _, err := NewSequential(tensor.Shape{4}, NewDense(2), nil); err == nil || !strings.Contains(err.Error(), "layer 1 is nil") {
		t.Errorf("nil layer: %v", err)
	}
}

func TestForwardShapeErrors(t *testing.T) {
	m := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewFlatten(), NewDense(10)))
	_, err := m.Forward(nil, tensor.New(5, 28, 28))
	if err == nil || err.Error() != "input 0: got shape (N, 28, 28), want (N, 28, 28, 1)" {
		t.Errorf("got %v", err)
	}
	if _, err := m.Forward(nil); err == nil {
		t.Errorf("no inputs accepted")
	}
	if _, err := m.Forward(nil, nil); err == nil {
		t.Errorf("nil input accepted")
	}
	if _, err := m.Forward(nil, &tensor.Tensor{Shape: tensor.Shape{2, 28, 28, 1}, Data: make([]float32, 3)}); err == nil {
		t.Errorf("short data accepted")
	}
	if err := must(t)(NewSequential(tensor.Shape{3}, NewDense(2))).Backward(nil, tensor.New(1, 2)); err == nil {
		t.Errorf("Backward before Forward accepted")
	}
	outs, err := m.Forward(nil, tensor.New(2, 28, 28, 1))
	if err != nil || !outs[0].Shape.Equal(tensor.Shape{2, 10}) {
		t.Fatalf("Forward: %v %v", outs, err)
	}
	if err := m.Backward(nil, tensor.New(3, 10)); err == nil || !strings.Contains(err.Error(), "gradient 0 has shape (3, 10), want (2, 10)") {
		t.Errorf("Backward shape: %v", err)
	}
	// Two inputs with different batch sizes.
	a, b := Input(3), Input(3)
	fm := must(t)(NewModel([]*Node{a, b}, []*Node{Call(NewAdd(), a, b)}))
	if _, err := fm.Forward(nil, tensor.New(2, 3), tensor.New(3, 3)); err == nil || !strings.Contains(err.Error(), "batch size") {
		t.Errorf("batch mismatch: %v", err)
	}
}

// fanOutModel builds a Functional model where one tensor (h) feeds three
// layers, and one output (b1) also feeds another layer.
func fanOutModel(t *testing.T) *Model {
	t.Helper()
	x := Input(6)
	tanh, err := NewActivation("tanh")
	if err != nil {
		t.Fatal(err)
	}
	h := Call(tanh, Call(NewDense(5), x))
	b1 := Call(NewDense(5), h)
	b2 := Call(NewDense(5), h)
	sum := Call(NewAdd(), b1, b2)
	cat := Call(NewConcatenate(), sum, h)
	out := Call(NewDense(3), cat)
	return must(t)(NewModel([]*Node{x}, []*Node{out, b1}))
}

func TestModelGradCheck(t *testing.T) {
	m := fanOutModel(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range m.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(r.NormFloat64() * 0.1)
		}
	}
	x := randTensor(r, 4, 6)
	R1, R2 := randTensor(r, 4, 3), randTensor(r, 4, 5)
	c := &Context{}
	loss := func() float64 {
		outs, err := m.Forward(c, x)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range outs[0].Data {
			s += float64(v) * float64(R1.Data[i])
		}
		for i, v := range outs[1].Data {
			s += float64(v) * float64(R2.Data[i])
		}
		return s
	}
	loss()
	if err := m.Backward(c, R1, R2); err != nil {
		t.Fatal(err)
	}
	const eps, tol = 1e-2, 2e-2
	checked := 0
	for li, l := range m.Layers() {
		for _, p := range l.Params() {
			ana := append([]float32(nil), p.Grad.Data...)
			for j := range p.Value.Data {
				orig := p.Value.Data[j]
				p.Value.Data[j] = orig + eps
				lp := loss()
				p.Value.Data[j] = orig - eps
				lm := loss()
				p.Value.Data[j] = orig
				num := (lp - lm) / (2 * eps)
				if d := math.Abs(num - float64(ana[j])); d > tol*math.Max(1, math.Abs(num)) {
					t.Errorf("layer %d %s %s[%d]: analytic %.6g, numeric %.6g", li, l.Name(), p.Name, j, ana[j], num)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Errorf("checked only %d values", checked)
	}
}

func TestInitWeights(t *testing.T) {
	snapshot := func(m *Model) []float32 {
		var v []float32
		for _, p := range m.Params() {
			v = append(v, p.Value.Data...)
		}
		return v
	}
	build := func() *Model { return fanOutModel(t) }
	a, b := build(), build()
	wa := snapshot(a)
	if fmt.Sprint(wa) != fmt.Sprint(snapshot(b)) {
		t.Fatalf("two fresh models differ")
	}
	a.InitWeights(1)
	if fmt.Sprint(snapshot(a)) == fmt.Sprint(wa) {
		t.Errorf("InitWeights(1) gave the seed-0 weights")
	}
	a.InitWeights(0)
	if fmt.Sprint(snapshot(a)) != fmt.Sprint(wa) {
		t.Errorf("InitWeights(0) does not restore the initial weights")
	}
}

func TestSubModelKeepsWeights(t *testing.T) {
	x := Input(4)
	d1 := NewDense(3)
	h := Call(d1, x)
	y := Call(NewDense(2), h)
	full := must(t)(NewModel([]*Node{x}, []*Node{y}))
	d1.Kernel.Value.Data[0] = 42
	sub := must(t)(NewModel([]*Node{x}, []*Node{h}))
	if d1.Kernel.Value.Data[0] != 42 {
		t.Errorf("building a sub-model re-initialized shared weights")
	}
	if sub.Layers()[0].Name() != "dense" || full.Layers()[1].Name() != "dense_1" {
		t.Errorf("names changed: %s %s", sub.Layers()[0].Name(), full.Layers()[1].Name())
	}
}

func TestModelAccessors(t *testing.T) {
	m := fanOutModel(t)
	if got := fmt.Sprint(m.Inputs(), m.Outputs()); got != "[(6,)] [(3,) (5,)]" {
		t.Errorf("shapes %s", got)
	}
	n := 0
	for _, l := range m.Layers() {
		n += len(l.Params())
	}
	if len(m.Params()) != n {
		t.Errorf("Params %d, want %d", len(m.Params()), n)
	}
	if got := m.Inbound("concatenate"); fmt.Sprint(got) != "[add activation]" {
		t.Errorf("Inbound(concatenate) = %v", got)
	}
	if m.Inbound("nope") != nil || m.OutputShape("nope") != nil {
		t.Errorf("unknown layer lookups not nil")
	}
	if !m.OutputShape("concatenate").Equal(tensor.Shape{10}) {
		t.Errorf("OutputShape(concatenate) = %v", m.OutputShape("concatenate"))
	}
	m.SetName("net")
	m.SetStep(7)
	if m.Name() != "net" || m.Step() != 7 {
		t.Errorf("SetName/SetStep")
	}
}

func TestForwardBackwardNoAlloc(t *testing.T) {
	// test-only layers do not allocate in steady state, so any allocation
	// is the model's.
	x := Input(8)
	s1 := Call(&testScale{}, x)
	s2 := Call(&testScale{}, s1)
	s3 := Call(&testScale{}, s1)
	y := Call(&testSum{}, s2, s3)
	z := Call(&testSum{}, y, s1)
	m := must(t)(NewModel([]*Node{x}, []*Node{z}))
	r := rand.New(rand.NewPCG(1, 1))
	in, g := randTensor(r, 16, 8), randTensor(r, 16, 8)
	c := &Context{Training: true}
	step := func() {
		if _, err := m.Forward(c, in); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(c, g); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(20, step); a != 0 {
		t.Errorf("Forward+Backward allocate %v times per step", a)
	}
}

func TestRenameAfterCall(t *testing.T) {
	x := Input(3)
	d := NewDense(2)
	y := Call(d, x)
	if d.Name() != "dense" {
		t.Errorf("provisional name %q", d.Name())
	}
	d.SetName("head")
	y2 := Call(NewDense(2), y)
	m := must(t)(NewModel([]*Node{x}, []*Node{y2}))
	if m.Layers()[0].Name() != "head" || m.Layers()[1].Name() != "dense" {
		t.Errorf("names %s %s", m.Layers()[0].Name(), m.Layers()[1].Name())
	}
}
