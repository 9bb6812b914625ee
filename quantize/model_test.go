package quantize

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// channelScale is a custom layer defined here, not in the library:
// out[..., c] = x[..., c] * scale[c].
type channelScale struct {
	nn.Base
	scale   *nn.Param
	x, out  *tensor.Tensor
	dx      *tensor.Tensor
	dxs     [1]*tensor.Tensor
	channel int
}

func init() {
	nn.Register("TestChannelScale", func(name string, raw json.RawMessage) (nn.Layer, error) {
		l := &channelScale{}
		l.SetName(name)
		return l, nil
	})
}

func (l *channelScale) Type() string { return "TestChannelScale" }
func (l *channelScale) Config() any  { return struct{}{} }
func (l *channelScale) Params() []*nn.Param {
	if l.scale == nil {
		return nil
	}
	return []*nn.Param{l.scale}
}
func (l *channelScale) Build(in []tensor.Shape) (tensor.Shape, error) {
	l.channel = in[0][len(in[0])-1]
	l.scale = nn.NewParam("scale", true, l.channel)
	for i := range l.scale.Value.Data {
		l.scale.Value.Data[i] = 1 + 0.1*float32(i)
	}
	return in[0].Clone(), nil
}
func (l *channelScale) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	l.x = in[0]
	out := tensor.Ensure(&l.out, in[0].Shape...)
	for i, v := range in[0].Data {
		out.Data[i] = v * l.scale.Value.Data[i%l.channel]
	}
	return out
}
func (l *channelScale) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	dx := tensor.Ensure(&l.dx, dOut.Shape...)
	clear(l.scale.Grad.Data)
	for i, g := range dOut.Data {
		dx.Data[i] = g * l.scale.Value.Data[i%l.channel]
		l.scale.Grad.Data[i%l.channel] += g * l.x.Data[i]
	}
	l.dxs[0] = dx
	return l.dxs[:]
}

// scaleConfig is the user's QuantizeConfig for channelScale: the scale is a
// per-channel weight, the output an activation.
type scaleConfig struct{}

func (scaleConfig) Weights(l nn.Layer, s NBit) []WeightSpec {
	return []WeightSpec{{Param: "scale", Spec: s.Weight(0)}}
}
func (scaleConfig) Output(l nn.Layer, s NBit) *Spec { sp := s.Activation(); return &sp }

func customModel(t *testing.T) (*nn.Model, *channelScale) {
	x := nn.Input(6)
	cs := &channelScale{}
	y := nn.Call(nn.NewDense(8), x)
	y = nn.Call(cs, y)
	y = nn.Call(nn.NewReLU(), y)
	y = nn.Call(nn.NewDense(3), y)
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	return m, cs
}

func toyData(n, in, classes int, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New(n, in)
	y := tensor.New(n)
	for i := 0; i < n; i++ {
		var s float32
		for j := 0; j < in; j++ {
			v := float32(r.NormFloat64())
			x.Data[i*in+j] = v
			s += v * float32(j%3-1)
		}
		y.Data[i] = float32(min(classes-1, max(0, int(s+1.5))))
	}
	return x, y
}

func compileFit(t *testing.T, m *nn.Model, x, y *tensor.Tensor, seed uint64) {
	t.Helper()
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2), Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 16, Epochs: 2, Seed: seed, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
}

func TestCustomLayerQuantizeConfig(t *testing.T) {
	m, cs := customModel(t)
	qm, err := Model(m, AnnotateLayer(cs, scaleConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	w, ok := qm.Layer(cs.Name()).(*QuantizeWrapper)
	if !ok {
		t.Fatalf("custom layer is a %T, want a QuantizeWrapper", qm.Layer(cs.Name()))
	}
	// The user's config quantizes the scale; its output quantizer moves to
	// the ReLU that follows (fused activation).
	if w.WeightQuantizer("scale") == nil || w.OutputQuant() != nil {
		t.Fatal("the user's config was not applied as expected")
	}
	if r, ok := qm.Layer("re_lu").(*QuantizeWrapper); !ok || r.OutputQuant() == nil {
		t.Fatalf("the ReLU after the custom layer is not quantized: %T", qm.Layer("re_lu"))
	}
	x, y := toyData(256, 6, 3, 1)
	compileFit(t, qm, x, y, 1)
	path := filepath.Join(t.TempDir(), "qat.safetensors")
	if err := nn.Save(path, qm); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := qm.Predict(context.Background(), x, 64)
	if err != nil {
		t.Fatal(err)
	}
	b, err := back.Predict(context.Background(), x, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatalf("output %d after save/load: %v, want %v", i, b.Data[i], a.Data[i])
		}
	}
	// The state (ranges) came back too, and training resumes from it.
	pa, pb := qm.Params(), back.Params()
	for i := range pa {
		for j := range pa[i].Value.Data {
			if pa[i].Value.Data[j] != pb[i].Value.Data[j] {
				t.Fatalf("param %s differs after load", pa[i].Name)
			}
		}
	}
}

func TestUnsupportedLayerError(t *testing.T) {
	m, cs := customModel(t)
	_, err := Model(m)
	if err == nil {
		t.Fatal("no error for a custom layer without a QuantizeConfig")
	}
	msg := err.Error()
	for _, want := range []string{cs.Name(), "TestChannelScale", "AnnotateLayer"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func snapshot(m *nn.Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Value.Data...))
	}
	return out
}

func sameSnapshot(a, b [][]float32) bool {
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

func smallCNN(t *testing.T) *nn.Model {
	m, err := models.Build("mnist-cnn", tensor.Shape{12, 12, 1}, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func imageData(n int, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 2))
	x := tensor.New(n, 12, 12, 1)
	y := tensor.New(n)
	for i := 0; i < n; i++ {
		c := r.IntN(4)
		y.Data[i] = float32(c)
		for p := 0; p < 144; p++ {
			v := float32(r.Float64() * 0.3)
			if (p/12)/6 == c/2 && (p%12)/6 == c%2 {
				v += 0.7
			}
			x.Data[i*144+p] = v
		}
	}
	return x, y
}

func TestFloatModelUntouchedAndReproducible(t *testing.T) {
	m := smallCNN(t)
	before := snapshot(m)
	x, y := imageData(96, 1)
	var runs [][][]float32
	for run := 0; run < 2; run++ {
		qm, err := Model(m, WithFreezeBNAfter(4))
		if err != nil {
			t.Fatal(err)
		}
		compileFit(t, qm, x, y, 5)
		runs = append(runs, snapshot(qm))
	}
	if !sameSnapshot(before, snapshot(m)) {
		t.Error("quantize.Model or QAT training changed the float model")
	}
	if !sameSnapshot(runs[0], runs[1]) {
		t.Error("two QAT runs with the same seed gave different weights")
	}
}

func TestModelStructure(t *testing.T) {
	m := smallCNN(t)
	qm, err := Model(m, WithScheme(NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}), WithLayerScheme("conv2d", Default8Bit))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range qm.Layers() {
		types = append(types, l.Type())
	}
	want := "QuantizeInput FoldedConvBN FoldedConvBN MaxPooling2D FoldedConvBN Flatten QuantizeWrapper"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("layers %s, want %s", got, want)
	}
	if b := qm.Layer("conv2d").(*FoldedConvBN).WeightQuant().Spec().Bits; b != 8 {
		t.Errorf("conv2d weight bits %d, want 8 (per-layer scheme)", b)
	}
	if b := qm.Layer("conv2d_1").(*FoldedConvBN).WeightQuant().Spec().Bits; b != 4 {
		t.Errorf("conv2d_1 weight bits %d, want 4", b)
	}
	if !qm.Sequential() {
		t.Error("a Sequential model should stay Sequential")
	}
	// Before any training, the QAT model in inference mode is close to the
	// float model (8-bit first layer, 4-bit others: loose).
	x, _ := imageData(8, 3)
	a, _ := m.Predict(context.Background(), x, 8)
	b, _ := qm.Predict(context.Background(), x, 8)
	if e := maxRel(b.Data, a.Data); e > 0.5 {
		t.Errorf("untrained QAT model differs from float by %.3g relative", e)
	}
}

func TestMobileNetTinyAndSeparable(t *testing.T) {
	m, err := models.Build("mobilenet-tiny", tensor.Shape{16, 16, 1}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := Model(m)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, l := range qm.Layers() {
		counts[l.Type()]++
	}
	if counts["BatchNormalization"] != 0 || counts["FoldedConvBN"] == 0 || counts["QuantizeWrapper"] < 3 {
		t.Errorf("mobilenet-tiny quantized to %v", counts)
	}
	x, _ := imageData(4, 2)
	x16 := tensor.New(4, 16, 16, 1)
	copy(x16.Data, x.Data)
	a, _ := m.Predict(context.Background(), x16, 4)
	b, err := qm.Predict(context.Background(), x16, 4)
	if err != nil {
		t.Fatal(err)
	}
	if e := maxRel(b.Data, a.Data); e > 0.2 {
		t.Errorf("8-bit mobilenet-tiny differs from float by %.3g relative", e)
	}

	// SeparableConv2D + BN + ReLU: split, then the pointwise stage folds.
	in := nn.Input(8, 8, 3)
	s := nn.NewSeparableConv2D(5, 3, 3)
	h := nn.Call(s, in)
	h = nn.Call(nn.NewBatchNormalization(), h)
	h = nn.Call(nn.NewReLU(), h)
	h = nn.Call(nn.NewGlobalAveragePooling2D(), h)
	h = nn.Call(nn.NewDense(2), h)
	sm, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{h})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := Model(sm)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range qs.Layers() {
		types = append(types, fmt.Sprintf("%s:%s", l.Name(), l.Type()))
	}
	want := "quantize_input_1:QuantizeInput separable_conv2d_depthwise:QuantizeWrapper separable_conv2d_pointwise:FoldedConvBN global_average_pooling2d:GlobalAveragePooling2D dense:QuantizeWrapper"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("separable model quantized to\n%s\nwant\n%s", got, want)
	}
	xs := tensor.New(2, 8, 8, 3)
	for i := range xs.Data {
		xs.Data[i] = float32(i%7) / 7
	}
	a, _ = sm.Predict(context.Background(), xs, 2)
	b, _ = qs.Predict(context.Background(), xs, 2)
	if e := maxRel(b.Data, a.Data); e > 0.1 {
		t.Errorf("8-bit separable model differs from float by %.3g relative", e)
	}
}

func TestApplyOnlyAnnotated(t *testing.T) {
	m := smallCNN(t)
	qm, err := Apply(m, Annotate("dense", nil), Annotate("conv2d_2", nil))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range qm.Layers() {
		types = append(types, l.Type())
	}
	want := "Conv2D BatchNormalization ReLU Conv2D BatchNormalization ReLU MaxPooling2D FoldedConvBN Flatten QuantizeWrapper"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("Apply gave %s, want %s", got, want)
	}
	if _, err := Apply(m, Annotate("nope", nil)); err == nil {
		t.Error("no error for an annotation of a missing layer")
	}
}
