package nn

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// mnistCNNForBench builds mnist-cnn (models.MNISTCNN, which nn's tests
// cannot import) for 28x28x1 images and 10 classes.
func mnistCNNForBench(tb testing.TB) *Model {
	conv := func(f int) *Conv2D {
		l := NewConv2D(f, 3, 3)
		l.UseBias = false
		return l
	}
	m, err := NewSequential(tensor.Shape{28, 28, 1},
		conv(32), NewBatchNormalization(), NewReLU(),
		conv(64), NewBatchNormalization(), NewReLU(),
		NewMaxPooling2D(2, 2),
		conv(64), NewBatchNormalization(), NewReLU(),
		NewFlatten(),
		NewDense(10),
	)
	if err != nil {
		tb.Fatal(err)
	}
	m.InitWeights(1)
	return m
}

// BenchmarkMNISTCNNStepLayers times each layer's part of a training step
// of mnist-cnn at batch 128 (the model executor's Forward and Backward,
// fusions included, timed step by step), on 1 and 2 threads, and reports
// milliseconds per step for each layer's forward (f:) and backward (b:)
// pass. Run with -benchtime 10x or so and -v to see the table.
func BenchmarkMNISTCNNStepLayers(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprint("threads", threads), func(b *testing.B) {
			defer kernels.SetThreads(kernels.Threads())
			kernels.SetThreads(threads)
			m := mnistCNNForBench(b)
			r := rand.New(rand.NewPCG(3, 4))
			x := tensor.New(128, 28, 28, 1)
			for i := range x.Data {
				x.Data[i] = r.Float32()
			}
			g := tensor.New(128, 10)
			for i := range g.Data {
				g.Data[i] = (r.Float32() - 0.5) / 128
			}
			c := &Context{Training: true}
			fwd := make([]time.Duration, len(m.steps))
			bwd := make([]time.Duration, len(m.steps))
			step := func(timed bool) {
				m.timedPass(c, x, g, fwd, bwd, timed)
			}
			step(false)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step(true)
			}
			b.StopTimer()
			var sb strings.Builder
			for k, st := range m.steps {
				f := fwd[k].Seconds() * 1e3 / float64(b.N)
				d := bwd[k].Seconds() * 1e3 / float64(b.N)
				fmt.Fprintf(&sb, "%-22s f %7.2f ms  b %7.2f ms\n", st.layer.Name(), f, d)
			}
			b.Log("\n" + sb.String())
		})
	}
}

// timedPass is Forward then Backward of the model (the executor's own
// loops), adding each step's time to fwd[k] and bwd[k] when timed.
func (m *Model) timedPass(c *Context, x, g *tensor.Tensor, fwd, bwd []time.Duration, timed bool) {
	base := len(m.inputs)
	copy(m.vals, []*tensor.Tensor{x})
	for k := range m.steps {
		st := &m.steps[k]
		t0 := time.Now()
		for j, s := range st.inSlots {
			st.ins[j] = m.vals[s]
		}
		var out *tensor.Tensor
		switch {
		case st.fused:
			out = m.vals[st.inSlots[0]]
		case st.pool != nil:
			out = st.bn.forwardActPool(c, st.ins[0], st.act.fusedKind(), st.pool)
		case st.act != nil:
			out = st.act.fusedOut(st.ins[0])
			st.bn.forwardAct(c, st.ins[0], st.act.fusedKind(), out)
		default:
			out = st.layer.Forward(c, st.ins)
		}
		m.vals[base+k] = out
		if timed {
			fwd[k] += time.Since(t0)
		}
	}
	m.outs[0] = m.vals[m.outSlots[0]]
	m.forwarded = true
	clear(m.gradCnt)
	clear(m.gradSrc)
	m.addGrad(m.outSlots[0], g)
	for k := len(m.steps) - 1; k >= 0; k-- {
		st := &m.steps[k]
		t0 := time.Now()
		d := m.gradSrc[base+k]
		var dIns []*tensor.Tensor
		switch {
		case st.fused:
			m.addGrad(st.inSlots[0], d)
			continue
		case st.pool != nil:
			dIns = st.bn.backwardActPool(d, st.act.fusedKind(), st.pool)
		case st.act != nil:
			dIns = st.bn.backwardAct(d, st.act.fusedKind())
		case st.noInGrad != nil:
			dIns = st.noInGrad.backwardParams(d)
		default:
			dIns = st.layer.Backward(c, d)
		}
		for j, s := range st.inSlots {
			if s >= base {
				m.addGrad(s, dIns[j])
			}
		}
		if timed {
			bwd[k] += time.Since(t0)
		}
	}
}

// BenchmarkBNReLUPool times BatchNormalization, ReLU and 2x2 max pooling
// on mnist-cnn's conv2 output at batch 128 (128,24,24,64), training
// Forward and Backward, fused into one pass each way (the model
// executor's plan) and as BN with ReLU fused followed by the pooling
// layer (the plan before pooling was fused), on 1 thread.
func BenchmarkBNReLUPool(b *testing.B) {
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(1)
	r := rand.New(rand.NewPCG(5, 6))
	x := randTensor(r, 128, 24, 24, 64)
	dOut := randTensor(r, 128, 12, 12, 64)
	c := &Context{Training: true}
	for _, fused := range []bool{true, false} {
		b.Run(map[bool]string{true: "fused", false: "bnrelu+pool"}[fused], func(b *testing.B) {
			bn, pool := NewBatchNormalization(), NewMaxPooling2D(2, 2)
			var yBuf *tensor.Tensor
			for _, l := range []Layer{bn, pool} {
				if _, err := l.Build([]tensor.Shape{{24, 24, 64}}); err != nil {
					b.Fatal(err)
				}
			}
			step := func() {
				if fused {
					bn.forwardActPool(c, x, actReLU, pool)
					bn.backwardActPool(dOut, actReLU, pool)
					return
				}
				y := tensor.Ensure(&yBuf, x.Shape...)
				bn.forwardAct(c, x, actReLU, y)
				pool.Forward(c, []*tensor.Tensor{y})
				bn.backwardAct(pool.Backward(c, dOut)[0], actReLU)
			}
			step()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
		})
	}
}
