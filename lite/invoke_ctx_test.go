package lite_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// ctxModel returns mnist-cnn's integer model (random weights, calibrated on
// x) and the batch x of 16 images.
func ctxModel(t *testing.T) (*lite.Model, *tensor.Tensor) {
	t.Helper()
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(16, 28, 28, 1)
	for i := range x.Data {
		x.Data[i] = float32(i%23) / 23
	}
	if err := quantize.Calibrate(context.Background(), qm, x, 16); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(qm)
	if err != nil {
		t.Fatal(err)
	}
	return im, x
}

// opOutputsZero reports whether every int8 tensor an op writes is still
// all zeros (no op ran).
func opOutputsZero(it *lite.Interpreter, im *lite.Model) bool {
	for k := range im.Ops {
		o := im.Ops[k].Output
		if im.Tensors[o].DType != lite.Int8 {
			continue
		}
		if slices.ContainsFunc(it.TensorInt8(o, nil).Data, func(v int8) bool { return v != 0 }) {
			return false
		}
	}
	return true
}

// TestInvokeContext checks that InvokeContext with a cancelled context runs
// no op, whole batch or split across threads, and returns the context's
// error; that with a live context it computes what Invoke computes; and
// that AccuracyContext stops likewise.
func TestInvokeContext(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	im, x := ctxModel(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct{ batch, threads, shares int }{{2, 1, 0}, {16, 2, 2}} {
		kernels.SetThreads(c.threads)
		xb := x.Batch(0, c.batch)
		it, err := lite.NewInterpreter(im)
		if err != nil {
			t.Fatal(err)
		}
		it.KeepTensors() // every tensor compared
		if err := it.SetInput(0, xb); err != nil {
			t.Fatal(err)
		}
		if err := it.InvokeContext(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("batch %d: cancelled InvokeContext: %v", c.batch, err)
		}
		if !opOutputsZero(it, im) {
			t.Errorf("batch %d, %d threads: ops ran after the context was cancelled", c.batch, c.threads)
		}
		live, stop := context.WithCancel(context.Background())
		*lite.SplitShares(it) = 0
		if err := it.InvokeContext(live); err != nil {
			t.Fatal(err)
		}
		stop()
		if *lite.SplitShares(it) != c.shares {
			t.Errorf("batch %d: %d shares, want %d", c.batch, *lite.SplitShares(it), c.shares)
		}
		got := slices.Clone(it.Output(0).Data)
		if opOutputsZero(it, im) {
			t.Fatalf("batch %d: no op wrote anything", c.batch)
		}
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
		if !slices.Equal(got, ref.Output(0).Data) {
			t.Errorf("batch %d: InvokeContext and Invoke differ", c.batch)
		}
		// The interpreter is still usable after a cancelled run.
		if err := it.InvokeContext(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("batch %d: second cancelled InvokeContext: %v", c.batch, err)
		}
		if err := it.Invoke(); err != nil || !slices.Equal(it.Output(0).Data, got) {
			t.Errorf("batch %d: Invoke after a cancelled run: %v", c.batch, err)
		}
	}
	y := tensor.New(16)
	for i := range y.Data {
		y.Data[i] = float32(i % 10)
	}
	if _, err := lite.AccuracyContext(cancelled, im, x, y, 4); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled AccuracyContext: %v", err)
	}
	a, err := lite.Accuracy(im, x, y, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lite.AccuracyContext(context.Background(), im, x, y, 3)
	if err != nil || a != b {
		t.Errorf("Accuracy %v, AccuracyContext %v (%v)", a, b, err)
	}
}

// TestAccuracyOfNoInputs: an empty set is an error, not a NaN accuracy.
func TestAccuracyOfNoInputs(t *testing.T) {
	im, _ := ctxModel(t)
	_, err := lite.Accuracy(im, tensor.New(0, 28, 28, 1), tensor.New(0), 8)
	if err == nil || !strings.Contains(err.Error(), "no inputs") {
		t.Errorf("0 inputs: %v", err)
	}
}
