package nn_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// residualBlock is a user-defined composite layer: a ResNet basic block
// (two 3x3 Conv+BN, the second's output added to the input or to its 1x1
// projection, then ReLU), written as a Go type holding its layers.
type residualBlock struct {
	nn.Block
	Filters, Stride int

	conv1, conv2, proj *nn.Conv2D
	bn1, bn2, projBN   *nn.BatchNormalization
}

type residualConfig struct {
	Filters int `json:"filters"`
	Stride  int `json:"stride"`
}

func newResidualBlock(filters, stride int) *residualBlock {
	b := &residualBlock{Filters: filters, Stride: stride}
	b.conv1 = nn.NewConv2D(filters, 3, 3)
	b.conv1.Strides, b.conv1.Padding, b.conv1.UseBias = [2]int{stride, stride}, "same", false
	b.conv2 = nn.NewConv2D(filters, 3, 3)
	b.conv2.Padding, b.conv2.UseBias = "same", false
	b.proj = nn.NewConv2D(filters, 1, 1)
	b.proj.Strides, b.proj.UseBias = [2]int{stride, stride}, false
	b.bn1, b.bn2, b.projBN = nn.NewBatchNormalization(), nn.NewBatchNormalization(), nn.NewBatchNormalization()
	return b
}

func init() {
	nn.Register("TestResidualBlock", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var c residualConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		b := newResidualBlock(c.Filters, c.Stride)
		b.SetName(name)
		return b, nil
	})
}

func (b *residualBlock) Type() string { return "TestResidualBlock" }
func (b *residualBlock) Config() any  { return residualConfig{Filters: b.Filters, Stride: b.Stride} }

// Define is the block's forward pass.
func (b *residualBlock) Define(in ...*nn.Node) *nn.Node {
	x := in[0]
	y := nn.Call(nn.NewReLU(), nn.Call(b.bn1, nn.Call(b.conv1, x)))
	y = nn.Call(b.bn2, nn.Call(b.conv2, y))
	short := x
	if b.Stride != 1 || x.Shape()[2] != b.Filters {
		short = nn.Call(b.projBN, nn.Call(b.proj, x))
	}
	return nn.Call(nn.NewReLU(), nn.Call(nn.NewAdd(), y, short))
}

func compileNested(t *testing.T, m *nn.Model) {
	t.Helper()
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2), Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
}

// toyData returns n images (h, w, c) and labels in [0, classes).
func toyData(n, h, w, c, classes int, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 1))
	x, y := tensor.New(n, h, w, c), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(classes))
	}
	return x, y
}

func snapshot(ps []*nn.Param) [][]float32 {
	out := make([][]float32, len(ps))
	for i, p := range ps {
		out[i] = append([]float32(nil), p.Value.Data...)
	}
	return out
}

func sameValues(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func backbone(t *testing.T) *nn.Model {
	t.Helper()
	c := nn.NewConv2D(4, 3, 3)
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, c, nn.NewBatchNormalization(), nn.NewReLU(), nn.NewGlobalAveragePooling2D())
	if err != nil {
		t.Fatal(err)
	}
	m.SetName("backbone")
	m.InitWeights(7)
	return m
}

func fit(t *testing.T, m *nn.Model, x, y *tensor.Tensor) {
	t.Helper()
	if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 8, Epochs: 2, Seed: 3, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
}

func predictAll(t *testing.T, m *nn.Model, x *tensor.Tensor) []float32 {
	t.Helper()
	out, err := m.Forward(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), out[0].Data...)
}

// A model nested in a Functional model trains with it, saves and loads.
func TestNestedModelTrainsSavesLoads(t *testing.T) {
	bb := backbone(t)
	before := snapshot(bb.Params())
	x := nn.Input(6, 6, 2)
	y := nn.Call(nn.NewDense(3), nn.Call(bb.AsLayer(), x))
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues(before, snapshot(bb.Params())) {
		t.Fatal("nesting re-initialized the nested model's weights")
	}
	if got := len(m.Params()); got != len(bb.Params())+2 {
		t.Fatalf("outer model has %d params, want %d", got, len(bb.Params())+2)
	}
	compileNested(t, m)
	xs, ys := toyData(32, 6, 6, 2, 3, 1)
	fit(t, m, xs, ys)
	if sameValues(before, snapshot(bb.Params())) {
		t.Fatal("training the outer model did not train the nested one")
	}
	s := m.Summary()
	for _, want := range []string{"backbone (Sequential)", "  conv2d (Conv2D)", "  batch_normalization (BatchNormalization)"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary lacks %q:\n%s", want, s)
		}
	}
	path := filepath.Join(t.TempDir(), "nested.safetensors")
	if err := nn.Save(path, m); err != nil {
		t.Fatal(err)
	}
	m2, err := nn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues(snapshot(m.Params()), snapshot(m2.Params())) {
		t.Fatal("weights differ after Load")
	}
	if m2.Summary() != s {
		t.Errorf("Summary differs after Load:\n%s\nwant\n%s", m2.Summary(), s)
	}
	if !sameValues([][]float32{predictAll(t, m, xs)}, [][]float32{predictAll(t, m2, xs)}) {
		t.Fatal("predictions differ after Load")
	}
	if _, ok := m2.Layer("backbone").(*nn.ModelLayer); !ok {
		t.Fatalf("loaded layer is %T, want *nn.ModelLayer", m2.Layer("backbone"))
	}
	// Used once only.
	if y := nn.Call(bb.AsLayer(), nn.Input(6, 6, 2)); y.Err() == nil || !strings.Contains(y.Err().Error(), "already used") {
		t.Fatalf("second use of a nested model: %v", y.Err())
	}
}

// A frozen nested backbone keeps every value, moving statistics included,
// bit for bit, while the head trains.
func TestNestedFrozenBackbone(t *testing.T) {
	bb := backbone(t)
	bb.SetTrainable(false)
	head := nn.NewDense(3)
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, bb.AsLayer(), head)
	if err != nil {
		t.Fatal(err)
	}
	before, headBefore := snapshot(bb.Params()), snapshot(head.Params())
	compileNested(t, m)
	xs, ys := toyData(32, 6, 6, 2, 3, 2)
	fit(t, m, xs, ys)
	if !sameValues(before, snapshot(bb.Params())) {
		t.Fatal("the frozen backbone's values moved")
	}
	// It reads the model's input: its backward pass was skipped.
	for _, p := range bb.Params() {
		if p.Grad == nil {
			continue
		}
		for _, g := range p.Grad.Data {
			if g != 0 {
				t.Fatalf("the frozen backbone's %s got a gradient", p.Name)
			}
		}
	}
	if sameValues(headBefore, snapshot(head.Params())) {
		t.Fatal("the head did not train")
	}
	if s := m.Summary(); !strings.Contains(s, "Trainable params: 15\n") {
		t.Errorf("Summary of the frozen model:\n%s", s)
	}
	bb.SetTrainable(true)
	if !bb.Trainable() {
		t.Fatal("SetTrainable(true) did not unfreeze")
	}
	fit(t, m, xs, ys)
	if sameValues(before, snapshot(bb.Params())) {
		t.Fatal("the unfrozen backbone did not train")
	}
}

// A nested model computes what the same layers written inline compute,
// gradients with respect to its inputs included.
func TestNestedMatchesInline(t *testing.T) {
	build := func(nested bool) *nn.Model {
		pre, conv, bn, gap, head := nn.NewConv2D(2, 1, 1), nn.NewConv2D(3, 3, 3), nn.NewBatchNormalization(), nn.NewGlobalAveragePooling2D(), nn.NewDense(2)
		x := nn.Input(5, 5, 2)
		h := nn.Call(pre, x)
		var z *nn.Node
		if nested {
			bx := nn.Input(5, 5, 2)
			inner, err := nn.NewModel([]*nn.Node{bx}, []*nn.Node{nn.Call(gap, nn.Call(bn, nn.Call(conv, bx)))})
			if err != nil {
				t.Fatal(err)
			}
			z = nn.Call(inner.AsLayer(), h)
		} else {
			z = nn.Call(gap, nn.Call(bn, nn.Call(conv, h)))
		}
		m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{nn.Call(head, z)})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(5, 5))
		for _, p := range m.Params() {
			for i := range p.Value.Data {
				p.Value.Data[i] = float32(r.NormFloat64()) * 0.5
			}
		}
		return m
	}
	a, b := build(false), build(true)
	xs, _ := toyData(4, 5, 5, 2, 2, 3)
	c := &nn.Context{Training: true}
	oa, err := a.Forward(c, xs)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := b.Forward(c, xs)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues([][]float32{oa[0].Data}, [][]float32{ob[0].Data}) {
		t.Fatal("nested forward differs from inline")
	}
	d := tensor.New(oa[0].Shape...)
	for i := range d.Data {
		d.Data[i] = float32(i%3) - 1
	}
	if err := a.Backward(c, d); err != nil {
		t.Fatal(err)
	}
	if err := b.Backward(c, d); err != nil {
		t.Fatal(err)
	}
	ga, gb := make([][]float32, 0), make([][]float32, 0)
	for _, p := range a.Params() {
		if p.Grad != nil {
			ga = append(ga, p.Grad.Data)
		}
	}
	for _, p := range b.Params() {
		if p.Grad != nil {
			gb = append(gb, p.Grad.Data)
		}
	}
	if !sameValues(ga, gb) {
		t.Fatal("nested gradients differ from inline")
	}
	// Inference: the nested model runs its inference plan.
	pa, pb := predictAll(t, a, xs), predictAll(t, b, xs)
	for i := range pa {
		if d := pa[i] - pb[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("inference output %d: nested %v, inline %v", i, pb[i], pa[i])
		}
	}
}

// A user-defined block trains in Sequential and Functional models, saves
// and loads bit for bit, and shows its sub-layers in Summary.
func TestResidualBlockComposite(t *testing.T) {
	xs, ys := toyData(24, 8, 8, 3, 4, 4)
	for _, functional := range []bool{false, true} {
		b1, b2 := newResidualBlock(4, 1), newResidualBlock(6, 2)
		var m *nn.Model
		var err error
		if functional {
			x := nn.Input(8, 8, 3)
			y := nn.Call(nn.NewDense(4), nn.Call(nn.NewGlobalAveragePooling2D(), nn.Call(b2, nn.Call(b1, x))))
			m, err = nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
		} else {
			m, err = nn.NewSequential(tensor.Shape{8, 8, 3}, b1, b2, nn.NewGlobalAveragePooling2D(), nn.NewDense(4))
		}
		if err != nil {
			t.Fatal(err)
		}
		// conv, bn, relu, conv, bn, projection conv and bn, add, relu.
		if got := len(nn.Sublayers(b1)); got != 9 {
			t.Fatalf("block 1 has %d sub-layers, want 9", got)
		}
		if got := len(nn.Sublayers(b2)); got != 9 {
			t.Fatalf("block 2 has %d sub-layers, want 9", got)
		}
		before := snapshot(b1.Params())
		compileNested(t, m)
		fit(t, m, xs, ys)
		if sameValues(before, snapshot(b1.Params())) {
			t.Fatal("the block did not train")
		}
		s := m.Summary()
		for _, want := range []string{"test_residual_block (TestResidualBlock)", "test_residual_block_1 (TestResidualBlock)", "  conv2d_1 (Conv2D)", "  add (Add)"} {
			if !strings.Contains(s, want) {
				t.Errorf("Summary lacks %q:\n%s", want, s)
			}
		}
		path := filepath.Join(t.TempDir(), "block.safetensors")
		if err := nn.Save(path, m); err != nil {
			t.Fatal(err)
		}
		m2, err := nn.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !sameValues(snapshot(m.Params()), snapshot(m2.Params())) {
			t.Fatal("weights differ after Load")
		}
		if !sameValues([][]float32{predictAll(t, m, xs)}, [][]float32{predictAll(t, m2, xs)}) {
			t.Fatal("predictions differ after Load")
		}
		// Training continues identically from the saved and the loaded model.
		compileNested(t, m)
		compileNested(t, m2)
		m2.SetStep(m.Step())
		fit(t, m, xs, ys)
		fit(t, m2, xs, ys)
		if !sameValues(snapshot(m.Params()), snapshot(m2.Params())) {
			t.Fatal("training the loaded model differs from training the saved one")
		}
	}
}

// A Block built without nn.Call is an error, not a panic.
func TestBlockBuildDirectly(t *testing.T) {
	if _, err := newResidualBlock(2, 1).Build([]tensor.Shape{{4, 4, 2}}); err == nil {
		t.Fatal("Build outside Call succeeded")
	}
}

// Model.Layer finds sub-layers by path.
func TestLayerPath(t *testing.T) {
	bb := backbone(t)
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, bb.AsLayer(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	if m.Layer("backbone/conv2d") != bb.Layer("conv2d") || m.Layer("backbone/conv2d") == nil {
		t.Fatal("backbone/conv2d not found")
	}
	if m.Layer("backbone/nothing") != nil || m.Layer("dense/kernel") != nil {
		t.Fatal("a missing path was found")
	}
}

// Errors: a nested model with an unregistered layer does not save; a
// nested model with two outputs or other input shapes is refused.
func TestNestedErrors(t *testing.T) {
	x := nn.Input(3)
	inner, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{nn.Call(&unregistered{}, x)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewSequential(tensor.Shape{3}, inner.AsLayer())
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Save(filepath.Join(t.TempDir(), "m.safetensors"), m); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("saving a nested unregistered layer: %v", err)
	}
	x2 := nn.Input(3)
	two, err := nn.NewModel([]*nn.Node{x2}, []*nn.Node{nn.Call(nn.NewDense(2), x2), nn.Call(nn.NewDense(2), x2)})
	if err != nil {
		t.Fatal(err)
	}
	if y := nn.Call(two.AsLayer(), nn.Input(3)); y.Err() == nil || !strings.Contains(y.Err().Error(), "2 outputs") {
		t.Errorf("a two-output model as a layer: %v", y.Err())
	}
	bb := backbone(t)
	if y := nn.Call(bb.AsLayer(), nn.Input(5, 5, 2)); y.Err() == nil || !strings.Contains(y.Err().Error(), "input 0") {
		t.Errorf("wrong input shape: %v", y.Err())
	}
}

// unregistered is a layer type never registered.
type unregistered struct{ nn.Base }

func (*unregistered) Type() string        { return "Unregistered" }
func (*unregistered) Config() any         { return struct{}{} }
func (*unregistered) Params() []*nn.Param { return nil }
func (*unregistered) Build(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (*unregistered) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor { return in[0] }
func (*unregistered) Backward(c *nn.Context, d *tensor.Tensor) []*tensor.Tensor {
	return []*tensor.Tensor{d}
}

// twoTower is a block of two inputs: a Dense tower on each, concatenated,
// scored by a Dense.
type twoTower struct {
	nn.Block
	Units int

	a, b, score *nn.Dense
}

func newTwoTower(units int) *twoTower {
	return &twoTower{Units: units, a: nn.NewDense(units), b: nn.NewDense(units), score: nn.NewDense(1)}
}

func init() {
	nn.Register("TestTwoTower", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var c struct {
			Units int `json:"units"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		t := newTwoTower(c.Units)
		t.SetName(name)
		return t, nil
	})
}

func (t *twoTower) Type() string { return "TestTwoTower" }
func (t *twoTower) Config() any  { return map[string]int{"units": t.Units} }
func (t *twoTower) Define(in ...*nn.Node) *nn.Node {
	return nn.Call(t.score, nn.Call(nn.NewConcatenate(), nn.Call(t.a, in[0]), nn.Call(t.b, in[1])))
}

// A two-input block in a two-input model: its gradients reach both
// towers, and the model saves and loads.
func TestTwoTowerBlock(t *testing.T) {
	u, v := nn.Input(3), nn.Input(5)
	tower := newTwoTower(4)
	m, err := nn.NewModel([]*nn.Node{u, v}, []*nn.Node{nn.Call(tower, nn.Call(nn.NewDense(3), u), v)})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	xu, xv := tensor.New(6, 3), tensor.New(6, 5)
	for i := range xu.Data {
		xu.Data[i] = float32(r.NormFloat64())
	}
	for i := range xv.Data {
		xv.Data[i] = float32(r.NormFloat64())
	}
	c := &nn.Context{Training: true}
	out, err := m.Forward(c, xu, xv)
	if err != nil {
		t.Fatal(err)
	}
	d := tensor.New(out[0].Shape...)
	for i := range d.Data {
		d.Data[i] = 1
	}
	if err := m.Backward(c, d); err != nil {
		t.Fatal(err)
	}
	for _, l := range []nn.Layer{tower.a, tower.b, m.Layer("dense")} {
		nonzero := false
		for _, g := range l.Params()[0].Grad.Data {
			nonzero = nonzero || g != 0
		}
		if !nonzero {
			t.Errorf("layer %s got no gradient", l.Name())
		}
	}
	path := filepath.Join(t.TempDir(), "tower.safetensors")
	if err := nn.Save(path, m); err != nil {
		t.Fatal(err)
	}
	m2, err := nn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Forward(nil, xu, xv)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), a[0].Data...)
	b, err := m2.Forward(nil, xu, xv)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues([][]float32{want}, [][]float32{b[0].Data}) {
		t.Fatal("loaded two-tower model predicts differently")
	}
}

// A model holding a block and a nested model resumes from a checkpoint
// bit for bit (parameters keyed "<composite>/<sub-layer>/<param>").
func TestCompositeCheckpointResume(t *testing.T) {
	build := func() *nn.Model {
		bb := backbone(t)
		x := nn.Input(6, 6, 2)
		y := nn.Call(nn.NewDense(3), nn.Call(bb.AsLayer(), nn.Call(newResidualBlock(2, 1), x)))
		m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(4)
		compileNested(t, m)
		return m
	}
	xs, ys := toyData(24, 6, 6, 2, 3, 6)
	o := nn.FitOptions{BatchSize: 8, Epochs: 2, Seed: 2, Verbose: nn.VerboseSilent}
	a := build()
	if _, err := a.Fit(context.Background(), xs, ys, o); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := build()
	o1 := o
	o1.Epochs = 1
	o1.Checkpoint = &nn.CheckpointOptions{Dir: dir}
	if _, err := b.Fit(context.Background(), xs, ys, o1); err != nil {
		t.Fatal(err)
	}
	c := build()
	o2 := o
	o2.Resume = nn.CheckpointPath(dir)
	if _, err := c.Fit(context.Background(), xs, ys, o2); err != nil {
		t.Fatal(err)
	}
	if !sameValues(snapshot(a.Params()), snapshot(c.Params())) {
		t.Fatal("resumed training differs from uninterrupted training")
	}
}

// A frozen model between trained layers passes gradients through (in
// inference mode) and keeps its values.
func TestNestedFrozenInTheMiddle(t *testing.T) {
	bb := backbone(t)
	bb.SetTrainable(false)
	pre := nn.NewConv2D(2, 1, 1)
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, pre, bb.AsLayer(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	before, preBefore := snapshot(bb.Params()), snapshot(pre.Params())
	compileNested(t, m)
	xs, ys := toyData(32, 6, 6, 2, 3, 7)
	fit(t, m, xs, ys)
	if !sameValues(before, snapshot(bb.Params())) {
		t.Fatal("the frozen backbone's values moved")
	}
	if sameValues(preBefore, snapshot(pre.Params())) {
		t.Fatal("the layer before the frozen backbone did not train")
	}
}

// pretrainedInside is a block built around a given model.
type pretrainedInside struct {
	nn.Block
	m    *nn.Model
	head *nn.Dense
}

func (b *pretrainedInside) Type() string { return "TestPretrainedInside" }
func (b *pretrainedInside) Config() any  { return struct{}{} }
func (b *pretrainedInside) Define(in ...*nn.Node) *nn.Node {
	return nn.Call(b.head, nn.Call(b.m.AsLayer(), in[0]))
}

// Initialization: two identical blocks in a model get different weights,
// a model nested in a block keeps its weights when the outer model is
// built, and the outer model's InitWeights re-initializes everything.
func TestCompositeInit(t *testing.T) {
	b1, b2 := newResidualBlock(2, 1), newResidualBlock(2, 1)
	if _, err := nn.NewSequential(tensor.Shape{4, 4, 2}, b1, b2); err != nil {
		t.Fatal(err)
	}
	if sameValues(snapshot(b1.Params()), snapshot(b2.Params())) {
		t.Fatal("two blocks start with the same weights")
	}
	bb := backbone(t)
	before := snapshot(bb.Params())
	blk := &pretrainedInside{m: bb, head: nn.NewDense(2)}
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, blk)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues(before, snapshot(bb.Params())) {
		t.Fatal("building the outer model re-initialized the model inside the block")
	}
	m.InitWeights(99)
	if sameValues(before, snapshot(bb.Params())) {
		t.Fatal("InitWeights left the model inside the block as it was")
	}
}
