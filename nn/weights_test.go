package nn

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// TestWeightedFitByHand checks one weighted step of a softmax regression
// against the gradient computed by hand: the loss is sum_i w_i l_i / N
// and dL/dz_i = w_i (softmax(z_i) - onehot(y_i)) / N.
func TestWeightedFitByHand(t *testing.T) {
	x := fromSlice([]float32{1, 2, -1, 0.5, 0.5, -2, 3, 1}, 4, 2)
	y := fromSlice([]float32{0, 1, 1, 0}, 4)
	sw := fromSlice([]float32{1, 0.5, 2, 0}, 4)
	cw := map[int]float64{1: 3}
	d := NewDense(2)
	m := must(t)(NewSequential(tensor.Shape{2}, d))
	const lr = 0.1
	if err := m.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{lr}}); err != nil {
		t.Fatal(err)
	}
	k0 := append([]float32(nil), d.Kernel.Value.Data...) // (2 in, 2 out)
	b0 := append([]float32(nil), d.Bias.Value.Data...)
	h, err := m.Fit(context.Background(), x, y, FitOptions{BatchSize: 4, NoShuffle: true, Verbose: VerboseSilent, SampleWeight: sw, ClassWeight: cw})
	if err != nil {
		t.Fatal(err)
	}
	var loss float64
	var dk [4]float64
	var db [2]float64
	for i := 0; i < 4; i++ {
		w := float64(sw.Data[i])
		if y.Data[i] == 1 {
			w *= 3
		}
		var z [2]float64
		for o := 0; o < 2; o++ {
			z[o] = float64(b0[o])
			for j := 0; j < 2; j++ {
				z[o] += float64(x.Data[i*2+j]) * float64(k0[j*2+o])
			}
		}
		mx := math.Max(z[0], z[1])
		s := math.Exp(z[0]-mx) + math.Exp(z[1]-mx)
		lab := int(y.Data[i])
		loss += w * (mx + math.Log(s) - z[lab])
		for o := 0; o < 2; o++ {
			g := math.Exp(z[o]-mx) / s
			if o == lab {
				g--
			}
			g *= w / 4
			db[o] += g
			for j := 0; j < 2; j++ {
				dk[j*2+o] += float64(x.Data[i*2+j]) * g
			}
		}
	}
	loss /= 4
	if math.Abs(h.Loss[0]-loss) > 1e-6 {
		t.Errorf("weighted loss %v, by hand %v", h.Loss[0], loss)
	}
	for i := range dk {
		if want := float64(k0[i]) - lr*dk[i]; math.Abs(float64(d.Kernel.Value.Data[i])-want) > 1e-6 {
			t.Errorf("kernel[%d] = %v, by hand %v", i, d.Kernel.Value.Data[i], want)
		}
	}
	for i := range db {
		if want := float64(b0[i]) - lr*db[i]; math.Abs(float64(d.Bias.Value.Data[i])-want) > 1e-6 {
			t.Errorf("bias[%d] = %v, by hand %v", i, d.Bias.Value.Data[i], want)
		}
	}
}

// TestClassWeightIsSampleWeight checks that class weights are the sample
// weights of each sample's class, bit for bit, and that unit weights give
// the unweighted training up to rounding.
func TestClassWeightIsSampleWeight(t *testing.T) {
	x, y := blobs(1, 100, 3, 8)
	run := func(o FitOptions) ([]uint32, *History) {
		m := newMLP(t)
		o.BatchSize, o.Epochs, o.Verbose, o.Seed = 16, 2, VerboseSilent, 3
		h, err := m.Fit(context.Background(), x, y, o)
		if err != nil {
			t.Fatal(err)
		}
		return weightBits(m), h
	}
	cw := map[int]float64{0: 0.5, 2: 4}
	sw := tensor.New(100)
	ones := tensor.New(100, 1)
	for i, c := range y.Data {
		sw.Data[i] = 1
		if w, ok := cw[int(c)]; ok {
			sw.Data[i] = float32(w)
		}
		ones.Data[i] = 1
	}
	a, ha := run(FitOptions{ClassWeight: cw})
	b, hb := run(FitOptions{SampleWeight: sw})
	if !sameBits(a, b) || ha.Loss[1] != hb.Loss[1] {
		t.Errorf("ClassWeight and the equivalent SampleWeight train differently")
	}
	u, hu := run(FitOptions{SampleWeight: ones})
	p, hp := run(FitOptions{})
	for i := range u {
		if d := math.Abs(float64(math.Float32frombits(u[i]) - math.Float32frombits(p[i]))); d > 1e-5 {
			t.Fatalf("unit weights: weight %d differs by %g from unweighted training", i, d)
		}
	}
	if math.Abs(hu.Loss[1]-hp.Loss[1]) > 1e-6 {
		t.Errorf("unit weights: loss %v, unweighted %v", hu.Loss[1], hp.Loss[1])
	}
	if sameBits(a, p) {
		t.Errorf("class weights changed nothing")
	}
}

func TestWeightedMSE(t *testing.T) {
	pred := fromSlice([]float32{1, 2, 3, 4}, 2, 2)
	target := fromSlice([]float32{0, 0, 3, 2}, 2, 2)
	grad := tensor.New(2, 2)
	// Per-sample MSE: (1+4)/2 = 2.5 and (0+4)/2 = 2; weights 2 and 1.
	got := weightedLoss(MeanSquaredError{}, pred, target, []float64{2, 1}, grad)
	if want := (2*2.5 + 1*2.0) / 2; math.Abs(got-want) > 1e-12 {
		t.Errorf("weighted MSE %v, want %v", got, want)
	}
	// d/dpred of w_i * mean_j (p-t)^2 / N = w_i * 2 (p-t) / D / N.
	want := []float32{2 * 2 * 1 / 2 / 2, 2 * 2 * 2 / 2 / 2, 0, 1 * 2 * 2 / 2 / 2}
	for i, g := range grad.Data {
		if math.Abs(float64(g-want[i])) > 1e-7 {
			t.Errorf("grad[%d] = %v, want %v", i, g, want[i])
		}
	}
}

func TestFitWeightErrors(t *testing.T) {
	x, y := blobs(1, 20, 3, 8)
	for _, c := range []struct {
		o    FitOptions
		want string
	}{
		{FitOptions{ClassWeight: map[int]float64{3: 1}}, "class 3, out of range for 3 classes"},
		{FitOptions{ClassWeight: map[int]float64{0: -1}}, "class 0 is -1"},
		{FitOptions{ClassWeight: map[int]float64{0: math.NaN()}}, "class 0 is NaN"},
		{FitOptions{SampleWeight: tensor.New(19)}, "want (20) or (20, 1)"},
		{FitOptions{SampleWeight: fromSlice(make([]float32, 40), 20, 2)}, "want (20) or (20, 1)"},
		{FitOptions{SampleWeight: fromSlice(append(make([]float32, 19), float32(math.Inf(1))), 20)}, "+Inf at index 19"},
	} {
		m := newMLP(t)
		c.o.Verbose = VerboseSilent
		if _, err := m.Fit(context.Background(), x, y, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	m := must(t)(NewSequential(tensor.Shape{8}, NewDense(3)))
	if err := m.Compile(CompileOptions{Loss: MeanSquaredError{}, Optimizer: testSGD{0.1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), x, tensor.New(20, 3), FitOptions{ClassWeight: map[int]float64{0: 1}, Verbose: VerboseSilent}); err == nil || !strings.Contains(err.Error(), "needs integer class labels") {
		t.Errorf("ClassWeight with MSE: error %v", err)
	}
}

func TestBalancedAndParsedClassWeights(t *testing.T) {
	y := fromSlice([]float32{0, 0, 0, 1, 2, 2}, 6)
	cw, err := BalancedClassWeights(y, 4)
	if err != nil {
		t.Fatal(err)
	}
	// n / (classes * count): 6/(4*3), 6/(4*1), 6/(4*2); class 3 absent.
	if len(cw) != 3 || cw[0] != 0.5 || cw[1] != 1.5 || cw[2] != 0.75 {
		t.Errorf("balanced weights %v", cw)
	}
	if _, err := BalancedClassWeights(fromSlice([]float32{5}, 1), 4); err == nil {
		t.Errorf("a label out of range: no error")
	}
	p, err := ParseClassWeight("0:1, 1:5,3:0.25")
	if err != nil || len(p) != 3 || p[0] != 1 || p[1] != 5 || p[3] != 0.25 {
		t.Errorf("parsed %v, %v", p, err)
	}
	for _, bad := range []string{"", "0", "a:1", "-1:2", "0:x", "0:-1", "0:1,0:2", "0:inf"} {
		if _, err := ParseClassWeight(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// fromSlice is tensor.FromSlice for valid test data.
func fromSlice(data []float32, shape ...int) *tensor.Tensor {
	t, err := tensor.FromSlice(data, shape...)
	if err != nil {
		panic(err)
	}
	return t
}
