package quantize

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// TestStandaloneBatchNorm checks that a BatchNormalization after an Add is
// folded into a constant 1x1 depthwise kernel of ones: Model makes a
// FoldedConvBN with FixedKernel, training leaves the kernel at ones while
// gamma learns, and the flag survives save and load.
func TestStandaloneBatchNorm(t *testing.T) {
	x0 := nn.Input(6, 6, 3)
	a := nn.Call(nn.NewConv2D(4, 3, 3), x0)
	b := nn.Call(nn.NewConv2D(4, 3, 3), x0)
	s := nn.Call(nn.NewReLU(), nn.Call(nn.NewBatchNormalization(), nn.Call(nn.NewAdd(), a, b)))
	y := nn.Call(nn.NewDense(2), nn.Call(nn.NewFlatten(), s))
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Model(m)
	if err != nil {
		t.Fatal(err)
	}
	var f *FoldedConvBN
	for _, l := range q.Layers() {
		if x, ok := l.(*FoldedConvBN); ok && x.cfg.FixedKernel {
			f = x
		}
	}
	if f == nil {
		t.Fatal("no FoldedConvBN with a fixed kernel for the BN after Add")
	}
	if f.Conv().Type() != "DepthwiseConv2D" || f.Activation() != "relu" {
		t.Fatalf("folded %s with activation %q, want DepthwiseConv2D and relu", f.Conv().Type(), f.Activation())
	}
	x := tensor.New(8, 6, 6, 3)
	yl := tensor.New(8)
	for i := range x.Data {
		x.Data[i] = float32(i%11)/11 - 0.3
	}
	for i := range yl.Data {
		yl.Data[i] = float32(i % 2)
	}
	gamma := append([]float32(nil), f.bn.Gamma.Value.Data...)
	if err := q.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Fit(context.Background(), x, yl, nn.FitOptions{BatchSize: 4, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	for i, v := range f.kernel.Value.Data {
		if v != 1 {
			t.Fatalf("fixed kernel element %d is %v after training, want 1", i, v)
		}
	}
	moved := false
	for i, v := range f.bn.Gamma.Value.Data {
		moved = moved || v != gamma[i]
	}
	if !moved {
		t.Error("gamma did not train")
	}
	p := filepath.Join(t.TempDir(), "q.safetensors")
	if err := nn.Save(p, q); err != nil {
		t.Fatal(err)
	}
	q2, err := nn.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	f2, ok := q2.Layer(f.Name()).(*FoldedConvBN)
	if !ok || !f2.cfg.FixedKernel || f2.kernel.Trainable {
		t.Fatal("the loaded layer lost its fixed kernel")
	}
}
