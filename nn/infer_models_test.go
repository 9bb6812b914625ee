package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestInferBuiltinNetworks checks the inference plan of every built-in
// network against its layers run one by one, bit for bit, at 32x32 (the
// real networks' smallest input) at batch 1 and 9 on 2 threads (the ops
// split, then the batch split).
func TestInferBuiltinNetworks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every built-in network")
	}
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(2)
	r := rand.New(rand.NewPCG(8, 8))
	for _, name := range models.AllNames() {
		in, classes, _ := models.Canonical(name)
		if in[0] > 32 {
			in = tensor.Shape{32, 32, in[2]}
		}
		m, err := models.BuildWith(name, in, classes, 1, models.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !nn.HasInferPlan(m) {
			t.Errorf("%s: no inference plan", name)
			continue
		}
		// Moving statistics away from (0, 1), so that the normalization
		// does something.
		for _, l := range m.Layers() {
			if bn, ok := l.(*nn.BatchNormalization); ok {
				for i := range bn.MovingMean.Value.Data {
					bn.MovingMean.Value.Data[i] = float32(0.1 * r.NormFloat64())
					bn.MovingVariance.Value.Data[i] = float32(0.5 + r.Float64())
					bn.Beta.Value.Data[i] = float32(0.2 * r.NormFloat64())
				}
			}
		}
		for _, n := range []int{1, 9} {
			x := tensor.New(append([]int{n}, in...)...)
			for i := range x.Data {
				x.Data[i] = r.Float32()
			}
			want, err := nn.ForwardLayers(m, x)
			if err != nil {
				t.Fatal(err)
			}
			w := want[0].Clone()
			got, err := m.Forward(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range w.Data {
				if math.Float32bits(got[0].Data[i]) != math.Float32bits(v) {
					t.Fatalf("%s batch %d: output %d = %v, the layers give %v", name, n, i, got[0].Data[i], v)
				}
			}
		}
	}
}
