package lite

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// BenchmarkLSTM runs lstm-rowmnist's integer LSTM (28 steps of 28
// features, 128 units) at batch 1, 3 and 64 on one thread. Besides the wall
// time it reports the thread's CPU time per sample (cpu-us/sample, the
// steadier figure on a shared machine) and the op's multiply-adds per
// CPU second (cpuGOPS, two operations each: (F+U) x 4U per step), to set
// against qkernels' BenchmarkVNNIPeak.
func BenchmarkLSTM(b *testing.B) {
	r := rand.New(rand.NewPCG(19, 40))
	m := lstmModel(lstmCase{t: 28, f: 28, u: 128, bits: 8, e: -11, bias: true}, r)
	const ops = 2 * 28 * (28 + 128) * 4 * 128 // per sample
	for _, n := range []int{1, 3, 64} {
		b.Run("batch"+strconv.Itoa(n), func(b *testing.B) {
			it, err := NewInterpreter(m)
			if err != nil {
				b.Fatal(err)
			}
			it.SetThreads(1)
			x := &tensor.Int8{Shape: tensor.Shape{n, 28, 28}, Data: make([]int8, n*28*28)}
			for i := range x.Data {
				x.Data[i] = int8(r.IntN(256) - 128)
			}
			if err := it.SetInputInt8(0, x); err != nil {
				b.Fatal(err)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			c0 := threadCPU()
			for i := 0; i < b.N; i++ {
				if err := it.Invoke(); err != nil {
					b.Fatal(err)
				}
			}
			cpu := threadCPU() - c0
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "us/sample")
			if cpu > 0 {
				b.ReportMetric(cpu*1e6/float64(b.N*n), "cpu-us/sample")
				b.ReportMetric(ops*float64(b.N*n)/cpu/1e9, "cpuGOPS")
			}
		})
	}
}
