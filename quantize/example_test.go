package quantize_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// Quantize a small float model for QAT with the default 8-bit scheme, then
// fine-tune it as any model.
func ExampleModel() {
	conv := nn.NewConv2D(4, 3, 3)
	conv.UseBias = false
	float, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		conv, nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		panic(err)
	}
	qat, err := quantize.Model(float, quantize.WithFreezeBNAfter(100))
	if err != nil {
		panic(err)
	}
	for _, l := range qat.Layers() {
		fmt.Println(l.Name(), l.Type())
	}
	x := tensor.New(16, 8, 8, 1)
	y := tensor.New(16)
	for i := range x.Data {
		x.Data[i] = float32(i%5) / 5
	}
	if err := qat.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-3)}); err != nil {
		panic(err)
	}
	if _, err := qat.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 8, Verbose: nn.VerboseSilent}); err != nil {
		panic(err)
	}
	// Output:
	// quantize_input_1 QuantizeInput
	// conv2d FoldedConvBN
	// flatten Flatten
	// dense QuantizeWrapper
}

// gain is a custom layer: out = x * g, with one learned g per channel.
type gain struct {
	nn.Base
	g      *nn.Param
	x, out *tensor.Tensor
	dx     *tensor.Tensor
}

func (l *gain) Type() string { return "ExampleGain" }
func (l *gain) Config() any  { return struct{}{} }
func (l *gain) Params() []*nn.Param {
	if l.g == nil {
		return nil
	}
	return []*nn.Param{l.g}
}
func (l *gain) Build(in []tensor.Shape) (tensor.Shape, error) {
	l.g = nn.NewParam("g", true, in[0][len(in[0])-1])
	for i := range l.g.Value.Data {
		l.g.Value.Data[i] = 1
	}
	return in[0].Clone(), nil
}
func (l *gain) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	l.x = in[0]
	out := tensor.Ensure(&l.out, in[0].Shape...)
	C := len(l.g.Value.Data)
	for i, v := range in[0].Data {
		out.Data[i] = v * l.g.Value.Data[i%C]
	}
	return out
}
func (l *gain) Backward(c *nn.Context, d *tensor.Tensor) []*tensor.Tensor {
	dx := tensor.Ensure(&l.dx, d.Shape...)
	C := len(l.g.Value.Data)
	clear(l.g.Grad.Data)
	for i, v := range d.Data {
		dx.Data[i] = v * l.g.Value.Data[i%C]
		l.g.Grad.Data[i%C] += v * l.x.Data[i]
	}
	return []*tensor.Tensor{dx}
}

// gainConfig quantizes gain's weight per channel (axis 0) and its output.
type gainConfig struct{}

func (gainConfig) Weights(l nn.Layer, s quantize.NBit) []quantize.WeightSpec {
	return []quantize.WeightSpec{{Param: "g", Spec: s.Weight(0)}}
}

func (gainConfig) Output(l nn.Layer, s quantize.NBit) *quantize.Spec {
	sp := s.Activation()
	return &sp
}

// The custom layer type is registered (once) so that models using it, float
// or QAT, can be saved and loaded.
func init() {
	nn.Register("ExampleGain", func(name string, _ json.RawMessage) (nn.Layer, error) {
		l := &gain{}
		l.SetName(name)
		return l, nil
	})
}

// A custom layer is quantized through a QuantizeConfig; without one,
// quantize.Model reports the layer.
func ExampleQuantizeConfig() {
	g := &gain{}
	g.SetName("gain")
	float, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(3), g)
	if err != nil {
		panic(err)
	}
	if _, err := quantize.Model(float); err != nil {
		fmt.Println("without a config: error")
	}
	qat, err := quantize.Model(float, quantize.AnnotateLayer(g, gainConfig{}),
		quantize.WithScheme(quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}))
	if err != nil {
		panic(err)
	}
	w := qat.Layer("gain").(*quantize.QuantizeWrapper)
	fmt.Println(w.Layer.Type(), w.WeightQuantizer("g").Spec().Bits, "bits")
	// Output:
	// without a config: error
	// ExampleGain 4 bits
}

// ExamplePTQ quantizes a float model after training, calibrated on a few
// samples: the QAT model it returns converts to an integer model as one
// fine-tuned with QAT does.
func ExamplePTQ() {
	m, _ := nn.NewSequential(tensor.Shape{4}, nn.NewDense(3))
	m.InitWeights(1)
	x := tensor.New(16, 4)
	for i := range x.Data {
		x.Data[i] = float32(i%9)/9 - 0.5
	}
	qm, err := quantize.PTQ(context.Background(), m, x, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(quantize.IsQAT(qm), len(qm.Layers()))
	// Output: true 2
}
