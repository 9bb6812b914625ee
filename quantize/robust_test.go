package quantize_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestResumeQAT resumes quantization-aware models (8-bit ranges and 4-bit
// LSQ step sizes) from a checkpoint taken before the folded BN freezes:
// quantizer ranges, moving averages, init flags, step sizes and the BN
// freeze state are parameters and must come back bit for bit. Without
// calibration the ranges initialise during the run being checkpointed.
func TestResumeQAT(t *testing.T) {
	x, y := ckData(64)
	for _, scheme := range []quantize.NBit{quantize.Default8Bit, {WeightBits: 4, ActivationBits: 8, PerAxis: true, LSQ: true}} {
		build := func() *nn.Model {
			qm, err := quantize.Model(ckFloat(t), quantize.WithScheme(scheme), quantize.WithFreezeBNAfter(5))
			if err != nil {
				t.Fatal(err)
			}
			compileAdam(t, qm, 8)
			return qm
		}
		dir := t.TempDir()
		var mid string
		ref := build()
		o := nn.FitOptions{BatchSize: 16, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}
		o.Checkpoint = &nn.CheckpointOptions{Dir: filepath.Join(dir, "ref"), EveryNSteps: 3, OnSave: func(path string, epoch, batch int) {
			if mid == "" {
				mid = filepath.Join(dir, "mid.safetensors")
				copyFile(t, path, mid)
			}
		}}
		if _, err := ref.Fit(context.Background(), x, y, o); err != nil {
			t.Fatal(err)
		}
		m := build()
		o.Checkpoint, o.Resume = nil, mid
		if _, err := m.Fit(context.Background(), x, y, o); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(paramBits(m), paramBits(ref)); i >= 0 {
			t.Errorf("%s: resumed QAT weights differ at value %d", scheme, i)
		}
		// The comparison is sensitive: the same run with its step counter
		// shifted (the BN freezing at another step) ends elsewhere.
		skip := build()
		skip.SetStep(3)
		o.Resume = ""
		o.Epochs = 2
		if _, err := skip.Fit(context.Background(), x, y, o); err != nil {
			t.Fatal(err)
		}
		if firstDiff(paramBits(skip), paramBits(ref)) < 0 {
			t.Errorf("%s: the test cannot tell a resumed run from a shifted one", scheme)
		}
	}
}

// ckData returns n random 8x8x1 images with learnable labels i%3.
func ckData(n int) (x, y *tensor.Tensor) {
	r := rand.New(rand.NewPCG(11, 12))
	x, y = tensor.New(n, 8, 8, 1), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(i % 3)
		x.Data[i*64+(i%3)*7] += 3
	}
	return x, y
}

// ckFloat is Conv2D-BN-ReLU-Flatten-Dense with fixed initial weights.
func ckFloat(t *testing.T) *nn.Model {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	return m
}

func compileAdam(t *testing.T, m *nn.Model, totalSteps int) {
	t.Helper()
	opt := optim.NewAdam(1e-2)
	opt.LR = optim.Cosine{Base: 1e-2, Steps: totalSteps, Min: 1e-4, Warmup: 2}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: opt, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
}

// paramBits returns the bits of every parameter, trainable or not.
func paramBits(m *nn.Model) []uint32 {
	var b []uint32
	for _, p := range m.Params() {
		for _, v := range p.Value.Data {
			b = append(b, math.Float32bits(v))
		}
	}
	return b
}

// firstDiff returns the index of the first differing element, -1 if none.
func firstDiff(a, b []uint32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
