package lite_test

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// BenchmarkNetworkCPU times the int8 model of built-in networks (8-bit PTQ
// on random inputs, as goqat bench does) on one thread, in the thread's
// CPU time: on a machine shared with other work a steadier figure than
// the wall clock, to set against BenchmarkVNNIPeak's cpuGOPS. The
// networks and batches are GOQAT_BENCH_NETS, e.g.
// "mnist-cnn:32,resnet50:4,mobilenet-v2:1" (skipped when unset).
func BenchmarkNetworkCPU(b *testing.B) {
	spec := os.Getenv("GOQAT_BENCH_NETS")
	if spec == "" {
		b.Skip("GOQAT_BENCH_NETS not set")
	}
	for _, item := range strings.Split(spec, ",") {
		name, bs, _ := strings.Cut(item, ":")
		n := 0
		for _, c := range bs {
			n = n*10 + int(c-'0')
		}
		in, classes, ok := models.Canonical(name)
		if !ok {
			b.Fatalf("no network %q", name)
		}
		fm, err := models.Build(name, in, classes, 1)
		if err != nil {
			b.Fatal(err)
		}
		qm, err := quantize.Model(fm)
		if err != nil {
			b.Fatal(err)
		}
		cal := max(4, min(16, (1<<21)/in.Size()))
		x := tensor.New(append([]int{cal}, in...)...)
		r := rand.New(rand.NewPCG(3, 3))
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		if err := quantize.Calibrate(context.Background(), qm, x, cal); err != nil {
			b.Fatal(err)
		}
		im, err := convert.Convert(qm)
		if err != nil {
			b.Fatal(err)
		}
		macs := 0
		for _, op := range im.Ops {
			out := im.Tensors[op.Output].Shape.Size()
			switch op.Type {
			case lite.OpConv2D:
				macs += out * op.WeightShape[0] * op.WeightShape[1] * op.WeightShape[2]
			case lite.OpDepthwiseConv2D:
				macs += out * op.WeightShape[0] * op.WeightShape[1]
			case lite.OpFullyConnected:
				macs += out * im.Tensors[op.Inputs[0]].Shape.Size()
			}
		}
		b.Run(name+"/b"+bs, func(b *testing.B) {
			it, err := lite.NewInterpreter(im)
			if err != nil {
				b.Fatal(err)
			}
			it.SetThreads(1)
			xb := tensor.New(append([]int{n}, in...)...)
			for i := range xb.Data {
				xb.Data[i] = r.Float32()
			}
			if err := it.SetInput(0, xb); err != nil {
				b.Fatal(err)
			}
			if err := it.Invoke(); err != nil {
				b.Fatal(err)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			c0 := lite.ThreadCPU()
			for i := 0; i < b.N; i++ {
				if err := it.Invoke(); err != nil {
					b.Fatal(err)
				}
			}
			cpu := lite.ThreadCPU() - c0
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*n), "ms/img")
			if cpu > 0 {
				b.ReportMetric(cpu*1e3/float64(b.N*n), "cpu-ms/img")
				b.ReportMetric(2*float64(macs)*float64(b.N*n)/cpu/1e9, "cpuGOPS")
			}
		})
	}
}
