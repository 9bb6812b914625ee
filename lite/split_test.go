package lite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestBatchSplit runs batches large enough to be split across threads
// (evenly and not) and checks every tensor against a single-threaded run,
// that the split happened, and that it allocates nothing once sized.
func TestBatchSplit(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(9, 10))
	for _, name := range []string{"mnist-cnn", "mobilenet-tiny"} {
		m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 2)
		if err != nil {
			t.Fatal(err)
		}
		qm, err := quantize.Model(m)
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(26, 28, 28, 1)
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		if err := quantize.Calibrate(context.Background(), qm, x, 26); err != nil {
			t.Fatal(err)
		}
		im, err := convert.Convert(qm)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ batch, threads, shares int }{
			{8, 2, 2}, {11, 2, 2}, {13, 3, 3}, {26, 4, 4}, {7, 2, 0}, {26, 7, 0},
		} {
			what := fmt.Sprintf("%s batch %d, %d threads", name, c.batch, c.threads)
			xb := x.Batch(0, c.batch)
			kernels.SetThreads(1)
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
			kernels.SetThreads(c.threads)
			it, err := lite.NewInterpreter(im)
			if err != nil {
				t.Fatal(err)
			}
			it.KeepTensors() // every tensor compared
			if err := it.SetInput(0, xb); err != nil {
				t.Fatal(err)
			}
			*lite.SplitShares(it) = 0
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			if *lite.SplitShares(it) != c.shares {
				t.Errorf("%s: %d shares, want %d", what, *lite.SplitShares(it), c.shares)
			}
			for i, tn := range im.Tensors {
				if tn.DType != lite.Int8 {
					continue
				}
				got, want := it.TensorInt8(i, nil).Data, ref.TensorInt8(i, nil).Data
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("%s: tensor %d (%s) value %d = %d, want %d", what, i, tn.Name, j, got[j], want[j])
					}
				}
			}
			got, want := it.Output(0).Data, ref.Output(0).Data
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: output %d = %v, want %v", what, i, got[i], want[i])
				}
			}
			if a := testing.AllocsPerRun(3, func() { _ = it.Invoke() }); a != 0 {
				t.Errorf("%s: %v allocations per Invoke", what, a)
			}
		}
	}
}
