package lite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/workers"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestInterpreterSetThreads caps interpreters at more threads than the
// process setting (1) and checks that their ops and batches are split (parts
// go to workers), that every tensor matches an uncapped run, that Clone
// keeps the cap, that inputs set before SetThreads survive it, that Invoke
// does not allocate, and that SetThreads(0) follows the process setting
// again.
func TestInterpreterSetThreads(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(1)
	r := rand.New(rand.NewPCG(11, 12))
	for _, name := range []string{"mnist-cnn", "mobilenet-tiny"} {
		m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		qm, err := quantize.Model(m)
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(13, 28, 28, 1)
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		if err := quantize.Calibrate(context.Background(), qm, x, 13); err != nil {
			t.Fatal(err)
		}
		im, err := convert.Convert(qm)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 13} { // ops split; the batch split 3 ways
			what := fmt.Sprintf("%s batch %d", name, batch)
			xb := x.Batch(0, batch)
			ref, err := lite.NewInterpreter(im)
			if err != nil {
				t.Fatal(err)
			}
			ref.KeepTensors() // every tensor compared
			if err := ref.SetInput(0, xb); err != nil {
				t.Fatal(err)
			}
			if err := ref.Invoke(); err != nil {
				t.Fatal(err)
			}
			base, err := lite.NewInterpreter(im)
			if err != nil {
				t.Fatal(err)
			}
			base.KeepTensors() // every tensor compared
			if err := base.SetInput(0, xb); err != nil {
				t.Fatal(err)
			}
			base.SetThreads(3)
			if base.Threads() != 3 {
				t.Errorf("%s: Threads() = %d after SetThreads(3)", what, base.Threads())
			}
			clone := base.Clone()
			if clone.Threads() != 3 {
				t.Errorf("%s: the clone has Threads() = %d, want 3", what, clone.Threads())
			}
			if err := clone.SetInput(0, xb); err != nil {
				t.Fatal(err)
			}
			for _, it := range []*lite.Interpreter{base, clone} {
				before := workers.HandedOff()
				if err := it.Invoke(); err != nil {
					t.Fatal(err)
				}
				if workers.HandedOff() == before {
					t.Errorf("%s: no part went to a worker with 3 threads", what)
				}
				for i, tn := range im.Tensors {
					if tn.DType == lite.Int8 {
						eqInt8(t, fmt.Sprintf("%s: tensor %d (%s)", what, i, tn.Name), it.TensorInt8(i, nil).Data, ref.TensorInt8(i, nil).Data)
					}
				}
				if a := testing.AllocsPerRun(3, func() { _ = it.Invoke() }); a != 0 {
					t.Errorf("%s: %v allocations per Invoke", what, a)
				}
			}
			base.SetThreads(0)
			before := workers.HandedOff()
			if err := base.Invoke(); err != nil {
				t.Fatal(err)
			}
			if n := workers.HandedOff() - before; n != 0 {
				t.Errorf("%s: %d parts went to workers after SetThreads(0) with 1 process thread", what, n)
			}
			eqInt8(t, what+" after SetThreads(0)", base.OutputInt8(0).Data, ref.OutputInt8(0).Data)
		}
	}
}

// eqInt8 fails the test if got and want differ.
func eqInt8(t *testing.T, what string, got, want []int8) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
