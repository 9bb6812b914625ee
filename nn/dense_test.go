package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// roundTripC saves l's Config as JSON, rebuilds the layer through the
// registry, and checks that the copy has the same type, name and config.
func roundTripC(t *testing.T, l Layer) Layer {
	t.Helper()
	raw, err := json.Marshal(l.Config())
	if err != nil {
		t.Fatalf("%s: marshal config: %v", l.Type(), err)
	}
	ctor, err := lookup(l.Type())
	if err != nil {
		t.Fatalf("%s: %v", l.Type(), err)
	}
	c, err := ctor(l.Name(), raw)
	if err != nil {
		t.Fatalf("%s: constructor on %s: %v", l.Type(), raw, err)
	}
	if c.Type() != l.Type() || c.Name() != l.Name() || !reflect.DeepEqual(c.Config(), l.Config()) {
		t.Fatalf("%s: round trip gave %s %q %+v, want %+v", l.Type(), c.Type(), c.Name(), c.Config(), l.Config())
	}
	return c
}

// wantErrC fails unless err is non-nil and contains every fragment.
func wantErrC(t *testing.T, err error, frags ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", frags)
	}
	for _, f := range frags {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not contain %q", err, f)
		}
	}
}

func TestDenseGradCheck(t *testing.T) {
	gradCheck(t, NewDense(4), 3, true, 1e-2, 2e-2, tensor.Shape{6})
	d := NewDense(5)
	d.UseBias = false
	gradCheck(t, d, 2, true, 1e-2, 2e-2, tensor.Shape{7})
	if len(d.Params()) != 1 || d.Bias != nil {
		t.Fatalf("UseBias false: params %d, bias %v", len(d.Params()), d.Bias)
	}
}

func TestDenseForwardValues(t *testing.T) {
	d := NewDense(2)
	if _, err := d.Build([]tensor.Shape{{3}}); err != nil {
		t.Fatal(err)
	}
	copy(d.Kernel.Value.Data, []float32{1, 2, 3, 4, 5, 6}) // (3, 2)
	copy(d.Bias.Value.Data, []float32{0.5, -1})
	x, _ := tensor.FromSlice([]float32{1, 0, -1, 2, 1, 0.5}, 2, 3)
	out := d.Forward(&Context{}, []*tensor.Tensor{x})
	want := []float32{1 - 5 + 0.5, 2 - 6 - 1, 2 + 3 + 2.5 + 0.5, 4 + 4 + 3 - 1}
	if !out.Shape.Equal(tensor.Shape{2, 2}) || !reflect.DeepEqual(out.Data, want) {
		t.Fatalf("out %v %v, want (2, 2) %v", out.Shape, out.Data, want)
	}
	// db is the column sum of dOut.
	g, _ := tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	d.Backward(&Context{}, g)
	if !reflect.DeepEqual(d.Bias.Grad.Data, []float32{4, 6}) {
		t.Fatalf("db %v, want [4 6]", d.Bias.Grad.Data)
	}
}

func TestDenseInitWeights(t *testing.T) {
	d := NewDense(30)
	if _, err := d.Build([]tensor.Shape{{20}}); err != nil {
		t.Fatal(err)
	}
	d.Bias.Value.Data[0] = 3
	d.InitWeights(rand.New(rand.NewPCG(3, 4)))
	lim := float32(math.Sqrt(6.0 / 50))
	var maxAbs float32
	for _, v := range d.Kernel.Value.Data {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	if maxAbs > lim || maxAbs < lim*0.8 {
		t.Fatalf("kernel max |w| %v, want just under the Glorot limit %v", maxAbs, lim)
	}
	for _, v := range d.Bias.Value.Data {
		if v != 0 {
			t.Fatalf("bias not zeroed: %v", d.Bias.Value.Data)
		}
	}
}

func TestDenseErrors(t *testing.T) {
	_, err := NewDense(4).Build([]tensor.Shape{{4, 4, 1}})
	wantErrC(t, err, "Flatten")
	_, err = NewDense(0).Build([]tensor.Shape{{4}})
	wantErrC(t, err, "units")
	_, err = NewDense(3).Build([]tensor.Shape{{4}, {4}})
	wantErrC(t, err, "1 input")
	ctor, _ := lookup("Dense")
	_, err = ctor("d", json.RawMessage(`{"units": -2}`))
	wantErrC(t, err, "units")
	_, err = ctor("d", json.RawMessage(`{"units": 2, "activation": "relu"}`))
	wantErrC(t, err, "activation")
}

func TestDenseConfigRoundTrip(t *testing.T) {
	d := NewDense(7)
	d.SetName("dense_3")
	c := roundTripC(t, d).(*Dense)
	if !c.UseBias {
		t.Fatal("UseBias lost")
	}
	d.UseBias = false
	roundTripC(t, d)
}

// raceEnabledC reports whether the test binary was built with -race, under
// which sync.Pool drops items at random and allocation counts mean nothing.
func raceEnabledC() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return true
			}
		}
	}
	return false
}

// noAllocsC builds l on the per-sample shapes and checks that, with one
// thread, a Forward and Backward step allocates nothing once warm.
func noAllocsC(t *testing.T, l Layer, training bool, shapes ...tensor.Shape) {
	t.Helper()
	if raceEnabledC() {
		t.Skip("allocation counts are meaningless under -race")
	}
	old := kernels.Threads()
	defer kernels.SetThreads(old)
	kernels.SetThreads(1)
	out, err := l.Build(shapes)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	if ini, ok := l.(Initializer); ok {
		ini.InitWeights(r)
	}
	in := make([]*tensor.Tensor, len(shapes))
	for i, s := range shapes {
		in[i] = randTensorC(r, 0, 1, append([]int{4}, s...)...)
	}
	dy := randTensorC(r, 0, 1, append([]int{4}, out...)...)
	c := &Context{Training: training, Rand: r}
	step := func() { l.Forward(c, in); l.Backward(c, dy) }
	step()
	if n := testing.AllocsPerRun(10, step); n != 0 {
		t.Fatalf("%s: %v allocations per step, want 0", l.Type(), n)
	}
}

func TestLayersNoAllocsC(t *testing.T) {
	s := tensor.Shape{5, 5, 8}
	noAllocsC(t, NewDense(10), true, tensor.Shape{30})
	noAllocsC(t, NewReLU(), true, s)
	noAllocsC(t, NewReLU6(), true, s)
	for _, f := range []string{"sigmoid", "tanh", "softmax", "linear"} {
		a, _ := NewActivation(f)
		noAllocsC(t, a, true, s)
	}
	noAllocsC(t, NewAdd(), true, s, s, s)
	noAllocsC(t, NewConcatenate(), true, s, tensor.Shape{5, 5, 3})
	noAllocsC(t, NewReshape(-1, 8), true, s)
	noAllocsC(t, NewDropout(0.4), true, s)
	noAllocsC(t, NewBatchNormalization(), false, s)
}
