package nn

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// goldenFit hashes the weights, the History, Evaluate's results and
// Predict's outputs of single-input, single-output runs of Fit: an MLP with
// dropout and validation, a CNN with BatchNormalization, sample-weighted
// and clipped runs.
func goldenFit(t *testing.T) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]uint64{}
	hash := func(m *Model, h *History, extra ...float64) uint64 {
		f := fnv.New64a()
		put := func(v uint64) {
			var b [8]byte
			for i := range b {
				b[i] = byte(v >> (8 * i))
			}
			f.Write(b[:])
		}
		for _, b := range weightBits(m) {
			put(uint64(b))
		}
		for _, s := range [][]float64{h.Loss, h.Accuracy, h.ValLoss, h.ValAccuracy, extra} {
			put(uint64(len(s)))
			for _, v := range s {
				put(math.Float64bits(v))
			}
		}
		return f.Sum64()
	}
	x, y := blobs(1, 100, 3, 8)
	vx, vy := blobs(2, 37, 3, 8)
	m := newMLP(t)
	o := silent
	o.Seed, o.ValidationX, o.ValidationY = 5, vx, vy
	h, err := m.Fit(ctx, x, y, o)
	if err != nil {
		t.Fatal(err)
	}
	l, a, err := m.Evaluate(ctx, vx, vy, EvaluateOptions{BatchSize: 10, Verbose: VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(ctx, vx, 7)
	if err != nil {
		t.Fatal(err)
	}
	extra := []float64{l, a}
	for _, v := range p.Data {
		extra = append(extra, float64(v))
	}
	out["mlp"] = hash(m, h, extra...)

	m = newMLP(t)
	o = silent
	o.Seed, o.ClipNorm = 9, 0.5
	sw := tensor.New(100)
	for i := range sw.Data {
		sw.Data[i] = float32(i%4) * 0.5
	}
	o.SampleWeight, o.ClassWeight = sw, map[int]float64{1: 2}
	if h, err = m.Fit(ctx, x, y, o); err != nil {
		t.Fatal(err)
	}
	out["weighted"] = hash(m, h)

	r := rand.New(rand.NewPCG(2, 2))
	cx := randTensor(r, 50, 8, 8, 1)
	cy := tensor.New(50)
	for i := range cy.Data {
		cy.Data[i] = float32(i % 3)
	}
	m = newCNN(t)
	if h, err = m.Fit(ctx, cx, cy, FitOptions{BatchSize: 16, Epochs: 2, Seed: 3, Verbose: VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	out["cnn"] = hash(m, h)
	return out
}

// TestFitGolden pins the single-output Fit, Evaluate and Predict, on
// every float kernel path the CPU supports, to the results they gave
// before models with several outputs were trainable (hashes recorded on
// the commit before; the paths round differently, each the same on any
// thread count). GOQAT_PRINT_GOLDEN=1 prints them.
func TestFitGolden(t *testing.T) {
	want := map[string]map[string]uint64{
		"generic": {"mlp": 0x86c0824ed30a3d25, "weighted": 0xed0fe320c1508dc9, "cnn": 0x865e7260095ce905},
		"avx2":    {"mlp": 0x129b63729fa8fdbc, "weighted": 0x72e5b7d2f9862709, "cnn": 0x797445a6525d88e6},
		"avx512":  {"mlp": 0xf0636a8d32dcf868, "weighted": 0xc36fe470c7988a1, "cnn": 0xc25b6be80edc9070},
	}
	for _, p := range kernels.SupportedPaths() {
		restore := kernels.SetPath(p)
		got := goldenFit(t)
		restore()
		if os.Getenv("GOQAT_PRINT_GOLDEN") != "" {
			t.Logf("%q: {\"mlp\": %#x, \"weighted\": %#x, \"cnn\": %#x},", p, got["mlp"], got["weighted"], got["cnn"])
		}
		w, ok := want[p.String()]
		if !ok {
			t.Fatalf("no recorded hashes for kernel path %s", p)
		}
		for _, k := range []string{"mlp", "weighted", "cnn"} {
			if got[k] != w[k] {
				t.Errorf("path %s, %s: hash %#x, want %#x (the results changed)", p, k, got[k], w[k])
			}
		}
	}
}
