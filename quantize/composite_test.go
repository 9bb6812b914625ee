package quantize_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// basicBlock is a user-defined composite layer, a ResNet basic block:
// Conv 3x3 BN ReLU, Conv 3x3 BN, added to the input (or to its 1x1
// projection with BN), then ReLU. quantize.Model quantizes it with no
// QuantizeConfig of its own.
type basicBlock struct {
	nn.Block
	Filters, Stride int

	conv1, conv2, proj *nn.Conv2D
	bn1, bn2, projBN   *nn.BatchNormalization
}

type basicBlockConfig struct {
	Filters int `json:"filters"`
	Stride  int `json:"stride"`
}

func newBasicBlock(filters, stride int) *basicBlock {
	b := &basicBlock{Filters: filters, Stride: stride}
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
	nn.Register("BasicBlock", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var c basicBlockConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		b := newBasicBlock(c.Filters, c.Stride)
		b.SetName(name)
		return b, nil
	})
}

func (b *basicBlock) Type() string { return "BasicBlock" }
func (b *basicBlock) Config() any  { return basicBlockConfig{Filters: b.Filters, Stride: b.Stride} }

// Define is the block's forward pass, written as layer calls.
func (b *basicBlock) Define(in ...*nn.Node) *nn.Node {
	x := in[0]
	y := nn.Call(nn.NewReLU(), nn.Call(b.bn1, nn.Call(b.conv1, x)))
	y = nn.Call(b.bn2, nn.Call(b.conv2, y))
	short := x
	if b.Stride != 1 || x.Shape()[2] != b.Filters {
		short = nn.Call(b.projBN, nn.Call(b.proj, x))
	}
	return nn.Call(nn.NewReLU(), nn.Call(nn.NewAdd(), y, short))
}

// blockModel: a stem, a nested backbone model of two basic blocks, a head.
func blockModel(t *testing.T) (*nn.Model, *nn.Model) {
	t.Helper()
	bx := nn.Input(8, 8, 4)
	by := nn.Call(newBasicBlock(6, 2), nn.Call(newBasicBlock(4, 1), bx))
	backbone, err := nn.NewModel([]*nn.Node{bx}, []*nn.Node{by})
	if err != nil {
		t.Fatal(err)
	}
	backbone.SetName("backbone")
	stem := nn.NewConv2D(4, 3, 3)
	stem.Padding, stem.UseBias = "same", false
	m, err := nn.NewSequential(tensor.Shape{8, 8, 1}, stem, nn.NewBatchNormalization(), nn.NewReLU(),
		backbone.AsLayer(), nn.NewGlobalAveragePooling2D(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	return m, backbone
}

// quantize.Model sees inside composites: the blocks' Conv+BN pairs are
// folded, the Adds wrapped, as if the layers were written inline; the QAT
// model trains, and saves and loads.
func TestModelFlattensComposites(t *testing.T) {
	m, _ := blockModel(t)
	qat, err := quantize.Model(m, quantize.WithLayerScheme("backbone/basic_block_1", quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, l := range qat.Layers() {
		types[l.Name()] = l.Type()
	}
	want := map[string]string{
		"conv2d":                                     "FoldedConvBN",
		"backbone/basic_block/conv2d":                "FoldedConvBN",
		"backbone/basic_block/conv2d_1":              "FoldedConvBN",
		"backbone/basic_block/add":                   "QuantizeWrapper",
		"backbone/basic_block_1/conv2d":              "FoldedConvBN",
		"backbone/basic_block_1/conv2d_2":            "FoldedConvBN", // the projection
		"backbone/basic_block_1/add":                 "QuantizeWrapper",
		"backbone/basic_block_1/batch_normalization": "",
		"dense": "QuantizeWrapper",
	}
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("layer %q: type %q, want %q (layers %v)", name, types[name], typ, types)
		}
	}
	for name, typ := range types {
		if typ == "BatchNormalization" || typ == "BasicBlock" || typ == "Functional" {
			t.Errorf("layer %q left as %s", name, typ)
		}
	}
	// The scheme given to a composite reaches its sub-layers.
	if s := qat.Layer("backbone/basic_block_1/conv2d").(*quantize.FoldedConvBN).Config().(quantize.FoldedConfig).WeightQuantizer; s.Bits != 4 {
		t.Errorf("basic_block_1's conv has %d-bit weights, want 4", s.Bits)
	}
	// The QAT model computes the float model's function before training
	// (fake quant aside).
	r := rand.New(rand.NewPCG(1, 2))
	x, y := tensor.New(32, 8, 8, 1), tensor.New(32)
	for i := range x.Data {
		x.Data[i] = float32(r.Float64())
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	if err := qat.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-3)}); err != nil {
		t.Fatal(err)
	}
	h, err := qat.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 8, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Loss) != 2 {
		t.Fatalf("history %v", h.Loss)
	}
	path := filepath.Join(t.TempDir(), "qat.safetensors")
	if err := nn.Save(path, qat); err != nil {
		t.Fatal(err)
	}
	if _, err := quantize.Load(path); err != nil {
		t.Fatal(err)
	}
}

// Annotations name composites (their sub-layers all quantized with the
// registry's defaults) or sub-layers by their flattened names.
func TestApplyAnnotatesComposites(t *testing.T) {
	m, _ := blockModel(t)
	qat, err := quantize.Apply(m, quantize.Annotate("backbone", nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range qat.Layers() {
		inside := strings.HasPrefix(l.Name(), "backbone/")
		quantized := l.Type() == "FoldedConvBN" || l.Type() == "QuantizeWrapper"
		if inside && (l.Type() == "Conv2D" || l.Type() == "BatchNormalization") || !inside && quantized {
			t.Errorf("layer %q is %s", l.Name(), l.Type())
		}
	}
	if _, err := quantize.Apply(m, quantize.Annotate("backbone", quantize.DefaultConfig("Add"))); err == nil || !strings.Contains(err.Error(), "composite") {
		t.Errorf("a config given to a composite: %v", err)
	}
	if _, err := quantize.Apply(m, quantize.Annotate("backbone/nothing", nil)); err == nil {
		t.Error("an unknown flattened name was accepted")
	}
}
