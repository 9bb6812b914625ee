package lite_test

import (
	"context"
	"slices"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

func TestProfileOps(t *testing.T) {
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(2, 28, 28, 1)
	for i := range x.Data {
		x.Data[i] = float32(i%17) / 17
	}
	if err := quantize.Calibrate(context.Background(), qm, x, 2); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(qm)
	if err != nil {
		t.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := it.ProfileOps(ctx, 3); err == nil {
		t.Error("no error before the input was set")
	}
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if _, err := it.ProfileOps(ctx, 0); err == nil {
		t.Error("no error for 0 repetitions")
	}
	ops, err := it.ProfileOps(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != len(im.Ops) {
		t.Fatalf("%d timings for %d ops", len(ops), len(im.Ops))
	}
	var conv float64
	for i, o := range ops {
		if o.Index != i || o.Type != im.Ops[i].Type || o.Name != im.Ops[i].Name || o.Seconds < 0 {
			t.Errorf("op %d: %+v", i, o)
		}
		if o.Type == lite.OpConv2D {
			conv += o.Seconds
		}
	}
	if conv <= 0 {
		t.Error("the convolutions took no time")
	}
	// The profile ran the model: the outputs are those of an Invoke.
	got := append([]int8(nil), it.OutputInt8(0).Data...)
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, it.OutputInt8(0).Data) {
		t.Error("outputs after ProfileOps differ from those of an Invoke")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := it.ProfileOps(cctx, 3); err == nil {
		t.Error("no error for a cancelled context")
	}
}
