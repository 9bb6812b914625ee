package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// sameBits reports the first index where a and b differ bit for bit, or -1.
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestFoldedFusedEqualsNaive pins FoldedConvBN's fused passes to the
// unfused reference loops kept beside them (naive): outputs, input
// gradients, parameter gradients and quantizer state must agree bit for bit
// over training steps before and after the BN freeze and in inference, for
// every activation, with MovingAverage and LSQ output quantizers, and with
// the fused path run on 1 and 2 threads.
func TestFoldedFusedEqualsNaive(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	cases := append(foldCases(),
		// Large enough for several reduction chunks and parallel passes.
		foldCase{"conv2d-big+relu", func() nn.Layer { return nn.NewConv2D(16, 3, 3) }, []int{18, 18, 8}, "relu"},
		foldCase{"conv2d-big+relu6", func() nn.Layer { return nn.NewConv2D(16, 3, 3) }, []int{18, 18, 8}, "relu6"},
		foldCase{"conv2d-big", func() nn.Layer { return nn.NewConv2D(16, 3, 3) }, []int{18, 18, 8}, ""},
	)
	w8 := Default8Bit.Weight(3)
	specs := map[string][2]*Spec{}
	ma := Default8Bit.Activation()
	lsq := NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true, LSQ: true}.Activation()
	specs["moving-average"] = [2]*Spec{&w8, &ma}
	specs["lsq"] = [2]*Spec{&w8, &lsq}
	specs["no-output-quant"] = [2]*Spec{&w8, nil}
	for _, fc := range cases {
		for qname, sp := range specs {
			wq := sp[0]
			if fc.name == "depthwise" {
				w := Default8Bit.Weight(2)
				wq = &w
			} else if fc.name == "depthwise-multiplier-stride2" {
				w := Default8Bit.Weight(2)
				w.AxisSpan = 2 // kernel (KH,KW,C,M): per output channel c*M+m
				wq = &w
			} else if fc.name == "dense" {
				w := Default8Bit.Weight(1)
				wq = &w
			} else if len(fc.in) == 2 { // Conv1D: kernel (K, C, F)
				w := Default8Bit.Weight(2)
				wq = &w
			}
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("%s/%s/threads=%d", fc.name, qname, threads)
				r := rand.New(rand.NewPCG(21, 22))
				_, ref := foldPair(t, fc, 0.9, 2, wq, sp[1], r)
				r = rand.New(rand.NewPCG(21, 22))
				_, got := foldPair(t, fc, 0.9, 2, wq, sp[1], r)
				ref.naive = true
				batch := 4
				if len(fc.in) == 3 && fc.in[0] > 10 {
					batch = 16
				}
				xr := rand.New(rand.NewPCG(23, 24))
				for step := 0; step < 4; step++ {
					x := randTensor(xr, append([]int{batch}, fc.in...)...)
					training := step < 3 // steps 0, 1: batch statistics; 2: frozen; 3: inference
					kernels.SetThreads(2)
					want := ref.Forward(&nn.Context{Training: training, Step: step}, []*tensor.Tensor{x}).Clone()
					kernels.SetThreads(threads)
					out := got.Forward(&nn.Context{Training: training, Step: step}, []*tensor.Tensor{x})
					if i := sameBits(out.Data, want.Data); i >= 0 {
						t.Fatalf("%s step %d: output[%d] = %v, naive %v", name, step, i, out.Data[i], want.Data[i])
					}
					if !training {
						continue
					}
					dy := randTensor(xr, out.Shape...)
					kernels.SetThreads(2)
					wantIn := ref.Backward(&nn.Context{Training: true, Step: step}, dy)[0].Clone()
					kernels.SetThreads(threads)
					dIn := got.Backward(&nn.Context{Training: true, Step: step}, dy)[0]
					if i := sameBits(dIn.Data, wantIn.Data); i >= 0 {
						t.Fatalf("%s step %d: dIn[%d] = %v, naive %v", name, step, i, dIn.Data[i], wantIn.Data[i])
					}
					for k, p := range got.Params() {
						q := ref.Params()[k]
						if i := sameBits(p.Value.Data, q.Value.Data); i >= 0 {
							t.Fatalf("%s step %d: %s[%d] = %v, naive %v", name, step, p.Name, i, p.Value.Data[i], q.Value.Data[i])
						}
						if p.Grad != nil {
							if i := sameBits(p.Grad.Data, q.Grad.Data); i >= 0 {
								t.Fatalf("%s step %d: grad %s[%d] = %v, naive %v", name, step, p.Name, i, p.Grad.Data[i], q.Grad.Data[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestFoldedNoAllocs checks that the fused passes of a steady-state
// training step (one thread: no goroutines) allocate nothing: the step
// allocates no more than the naive loops do (the inner convolution's own
// allocations are counted in both).
func TestFoldedNoAllocs(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(1)
	fc := foldCase{"conv2d-big+relu", func() nn.Layer { return nn.NewConv2D(16, 3, 3) }, []int{18, 18, 8}, "relu"}
	w, o := Default8Bit.Weight(3), Default8Bit.Activation()
	r := rand.New(rand.NewPCG(25, 26))
	_, f := foldPair(t, fc, 0.9, -1, &w, &o, r)
	x := randTensor(r, append([]int{16}, fc.in...)...)
	in := []*tensor.Tensor{x}
	c := &nn.Context{Training: true}
	out := f.Forward(c, in)
	dy := randTensor(r, out.Shape...)
	step := func() {
		f.Forward(c, in)
		f.Backward(c, dy)
	}
	step()
	fused := testing.AllocsPerRun(5, step)
	f.naive = true
	step()
	naive := testing.AllocsPerRun(5, step)
	if fused > naive {
		t.Errorf("a fused folded training step allocates %v times, the naive one %v", fused, naive)
	}
}
