package lite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestBuiltinModelsNoAllocEveryPath converts the built-in networks (PTQ on
// random images) and checks, on every int8 path and for 1 and 2 threads,
// that Invoke allocates nothing once the interpreter is sized and that
// every path and thread count gives the same output codes.
func TestBuiltinModelsNoAllocEveryPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and converts two networks")
	}
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(5, 6))
	for _, name := range models.Names() {
		// mnist-cnn at batch 5 (each op split across threads) and 11 (the
		// batch split unevenly, 6 + 5); mobilenet-tiny at batch 64.
		batch := 5
		if name == "mobilenet-tiny" {
			batch = 64
		}
		x := tensor.New(batch, 28, 28, 1)
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		qm, err := quantize.Model(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := quantize.Calibrate(context.Background(), qm, x, batch); err != nil {
			t.Fatal(err)
		}
		var want []float32
		for _, p := range qkernels.SupportedPaths() {
			restore := qkernels.SetPath(p)
			im, err := convert.Convert(qm)
			if err != nil {
				t.Fatal(err)
			}
			for _, threads := range []int{1, 2} {
				kernels.SetThreads(threads)
				it, err := lite.NewInterpreter(im)
				if err != nil {
					t.Fatal(err)
				}
				if err := it.SetInput(0, x); err != nil {
					t.Fatal(err)
				}
				if err := it.Invoke(); err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("%s %v %d threads", name, p, threads)
				if a := testing.AllocsPerRun(5, func() { _ = it.Invoke() }); a != 0 {
					t.Errorf("%s: %v allocations per Invoke", what, a)
				}
				got := it.Output(0).Data // the activation arena's buffers on the way
				if want == nil {
					want = append([]float32(nil), got...)
				} else {
					if !slices.Equal(got, want) {
						t.Fatalf("%s: outputs differ from the first path", what)
					}
				}
			}
			restore()
		}
	}
}
