package qkernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkLSTMStages times the stages of one integer LSTM step of 128
// units (lstm-rowmnist's) on the active path: the recurrent product of one
// row (128 x 512, Acc with m = 1), the requantization of its 512 sums
// with the recurrent term added (Requant16), and the cell of 128 units
// (LSTMCell, AVX-512 only). cpu-ns/op is the thread's CPU time per call,
// the steadier figure on a shared machine.
func BenchmarkLSTMStages(b *testing.B) {
	r := rand.New(rand.NewPCG(19, 60))
	const u, gu = 128, 512
	cpuNs := func(b *testing.B, f func()) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ResetTimer()
		c0 := threadCPU()
		for i := 0; i < b.N; i++ {
			f()
		}
		if c := threadCPU() - c0; c > 0 {
			b.ReportMetric(c*1e9/float64(b.N), "cpu-ns/op")
		}
	}
	b.Run("product", func(b *testing.B) {
		w := make([]int8, u*gu)
		for i := range w {
			w[i] = int8(r.IntN(255) - 127)
		}
		pw, err := PackWeights(-1, w, u, gu)
		if err != nil {
			b.Fatal(err)
		}
		a := make([]uint8, PaddedRows(1)*RowStride(u))
		dst := make([]int32, gu)
		cpuNs(b, func() {
			if err := pw.Acc(a, RowStride(u), 1, dst, gu); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("requant", func(b *testing.B) {
		m0, s := make([]int64, gu), make([]uint, gu)
		a, off := make([]int32, gu), make([]int32, gu)
		add, out := make([]int16, gu), make([]int16, gu)
		for j := range m0 {
			m0[j], s[j] = 1<<30+r.Int64N(1<<30), 30
			a[j], add[j] = r.Int32N(1<<20)-1<<19, int16(r.IntN(8000)-4000)
		}
		rq, err := NewRequant16(m0, s, true)
		if err != nil {
			b.Fatal(err)
		}
		cpuNs(b, func() { rq.Rows(a, off, add, out) })
	})
	b.Run("cell", func(b *testing.B) {
		if !CellSupported() {
			b.Skip("no AVX-512")
		}
		tab := make([]int16, CellTableLen) // any values: the gathers' cost does not depend on them
		for i := range tab {
			tab[i] = int16(r.IntN(65536) - 32768)
		}
		c, err := NewLSTMCell(tab, -11, 1<<30, 38, 3, -128, 127)
		if err != nil {
			b.Fatal(err)
		}
		z, cs, h := make([]int16, 4*u), make([]int16, u), make([]int8, u)
		for i := range z {
			z[i] = int16(r.IntN(16000) - 8000)
		}
		cpuNs(b, func() { c.Step(z, cs, h) })
	})
}
