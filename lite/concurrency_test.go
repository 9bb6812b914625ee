package lite_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestInterpretersConcurrent runs one interpreter per goroutine over the
// same integer model, each on its own inputs and batch size, and checks
// every result against a serial run (go test -race checks the sharing).
func TestInterpretersConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := tensor.New(256, 6, 6, 2)
	y := tensor.New(256)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	conv := nn.NewConv2D(4, 3, 3)
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, conv, nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	loss := nn.SparseCategoricalCrossentropy{FromLogits: true}
	if err := q.Compile(nn.CompileOptions{Loss: loss, Optimizer: optim.NewAdam(1e-3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 32, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		t.Fatal(err)
	}
	run := func(lo, hi int) []int8 {
		it, err := lite.NewInterpreter(im)
		if err != nil {
			t.Error(err)
			return nil
		}
		if err := it.SetInput(0, x.Batch(lo, hi)); err != nil {
			t.Error(err)
			return nil
		}
		if err := it.Invoke(); err != nil {
			t.Error(err)
			return nil
		}
		return append([]int8(nil), it.OutputInt8(0).Data...)
	}
	ranges := [][2]int{{0, 1}, {1, 65}, {65, 200}, {200, 256}, {0, 256}, {7, 8}}
	want := make([][]int8, len(ranges))
	for i, rg := range ranges {
		want[i] = run(rg[0], rg[1])
	}
	got := make([][]int8, len(ranges))
	var wg sync.WaitGroup
	for i, rg := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got[i] = run(rg[0], rg[1])
			}
		}()
	}
	wg.Wait()
	for i := range ranges {
		if string(int8Bytes(got[i])) != string(int8Bytes(want[i])) {
			t.Errorf("batch %v: concurrent result differs from the serial one", ranges[i])
		}
	}
}

// int8Bytes reinterprets codes as bytes for comparison.
func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// TestCloneSharesWeights checks that clones share the packed weights of
// the interpreter they come from, and compute the same outputs, one per
// goroutine.
func TestCloneSharesWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := tensor.New(40, 6, 6, 2)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, nn.NewConv2D(8, 3, 3), nn.NewReLU(),
		nn.NewDepthwiseConv2D(3, 3), nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := quantize.Calibrate(context.Background(), q, x, 40); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		t.Fatal(err)
	}
	base, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := base.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := base.Invoke(); err != nil {
		t.Fatal(err)
	}
	want := append([]int8(nil), base.OutputInt8(0).Data...)
	var wg sync.WaitGroup
	clones := make([]*lite.Interpreter, 4)
	for i := range clones {
		clones[i] = base.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clones[i]
			for range 3 {
				if err := c.SetInput(0, x); err != nil {
					t.Error(err)
					return
				}
				if err := c.Invoke(); err != nil {
					t.Error(err)
					return
				}
				for j, v := range c.OutputInt8(0).Data {
					if v != want[j] {
						t.Errorf("clone %d: output %d = %d, want %d", i, j, v, want[j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for k, shared := range lite.SharedWeights(base, clones[0]) {
		if !shared {
			t.Errorf("op %d: a clone packed its own weights", k)
		}
	}
}
