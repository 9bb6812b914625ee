package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/qmath"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

func mustQ(t *testing.T, s Spec, shape ...int) Quantizer {
	t.Helper()
	q, err := s.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Build("q", shape); err != nil {
		t.Fatal(err)
	}
	return q
}

func vec(v ...float32) *tensor.Tensor {
	t, _ := tensor.FromSlice(v, len(v))
	return t
}

func TestMovingAverage(t *testing.T) {
	q := mustQ(t, Default8Bit.Activation(), 4)
	train := &nn.Context{Training: true}
	y := tensor.New(4)
	q.Forward(train, vec(1, 2, 3, 4), y) // first batch: [0, 4] (contains 0)
	p := q.Params()
	if p[0].Value.Data[0] != 0 || p[1].Value.Data[0] != 4 || p[2].Value.Data[0] != 1 {
		t.Fatalf("after first batch min %v max %v init %v, want 0 4 1", p[0].Value.Data, p[1].Value.Data, p[2].Value.Data)
	}
	q.Forward(train, vec(-2, 0, 1, 14), y)
	wantMin := float32(0*0.999 + -2*0.001)
	wantMax := float32(4*0.999 + 14*0.001)
	if p[0].Value.Data[0] != wantMin || p[1].Value.Data[0] != wantMax {
		t.Fatalf("EMA min %v max %v, want %v %v", p[0].Value.Data[0], p[1].Value.Data[0], wantMin, wantMax)
	}
	// Inference: frozen.
	q.Forward(&nn.Context{}, vec(-100, 100, 0, 0), y)
	if p[0].Value.Data[0] != wantMin || p[1].Value.Data[0] != wantMax {
		t.Fatal("inference changed the range")
	}
	s, zp := q.Scales()
	ws, wzp := qmath.Params(wantMin, wantMax, 8, false, false)
	if s[0] != ws || zp[0] != wzp {
		t.Fatalf("Scales %v %v, want %v %v", s, zp, ws, wzp)
	}
	if y.Data[1] != (127-float32(wzp))*ws {
		t.Fatalf("clamped output %v, want the nudged max %v", y.Data[1], (127-float32(wzp))*ws)
	}
}

func TestAllValuesAndLastValue(t *testing.T) {
	q := mustQ(t, Default8Bit.Input(), 2)
	train := &nn.Context{Training: true}
	y := tensor.New(2)
	q.Forward(train, vec(0.5, 2), y)
	q.Forward(train, vec(-1, 1), y)
	p := q.Params()
	if p[0].Value.Data[0] != -1 || p[1].Value.Data[0] != 2 {
		t.Fatalf("AllValues range [%v, %v], want [-1, 2]", p[0].Value.Data[0], p[1].Value.Data[0])
	}

	// LastValue per-axis on a (2, 3) Dense kernel: symmetric per column.
	w := mustQ(t, Default8Bit.Weight(1), 2, 3)
	k, _ := tensor.FromSlice([]float32{1, -0.5, 0.1, -2, 0.25, 0.2}, 2, 3)
	out := tensor.New(2, 3)
	w.Forward(train, k, out)
	s, zp := w.Scales()
	want := []float32{2.0 / 127, 0.5 / 127, 0.2 / 127}
	for c := range want {
		if math.Abs(float64(s[c]-want[c])) > 1e-9 || zp[c] != 0 {
			t.Errorf("channel %d: scale %v zp %d, want %v 0", c, s[c], zp[c], want[c])
		}
	}
	if out.Data[3] != -2 || out.Data[1] != -0.5 {
		t.Errorf("the channel max is exact: got %v %v", out.Data[3], out.Data[1])
	}
	// Inference keeps the last training range even if the weights grow.
	k.Data[0] = 10
	w.Forward(&nn.Context{}, k, out)
	if math.Abs(float64(out.Data[0]-2)) > 1e-6 {
		t.Errorf("inference with a frozen range: %v, want clamped to 2", out.Data[0])
	}
}

func TestFixed(t *testing.T) {
	q := mustQ(t, SoftmaxSpec, 3)
	y := tensor.New(3)
	q.Forward(&nn.Context{Training: true}, vec(0, 0.5, 1), y)
	want := []float32{0, 0.5, 255.0 / 256}
	for i := range want {
		if y.Data[i] != want[i] {
			t.Errorf("softmax fq %v, want %v", y.Data, want)
		}
	}
}

// TestLSQGradients checks LSQ's gradients against finite differences of the
// straight-through surrogate: with the inside/outside branch and
// r = round(x/s0) - x/s0 frozen at the current step s0, y(s) = s*(x/s + r)
// inside and s*lo or s*hi outside has dy/ds = r, lo or hi, which is LSQ's
// gradient before the 1/sqrt(N*Qp) scale; dy/dx = 1 inside and 0 outside.
func TestLSQGradients(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: KindLSQ, Bits: 4, Narrow: true, Symmetric: true, PerAxis: true, Axis: 1},
		{Kind: KindLSQ, Bits: 8},
	} {
		shape := []int{20, 3}
		q := mustQ(t, spec, shape...)
		r := rand.New(rand.NewPCG(3, 4))
		x := tensor.New(shape...)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		y := tensor.New(shape...)
		train := &nn.Context{Training: true}
		q.Forward(train, x, y)
		lq := q.(*LSQ)
		// Shrink the step so that some values clip.
		for c := range lq.step.Value.Data {
			lq.step.Value.Data[c] *= 0.1
		}
		q.Forward(train, x, y)
		R := make([]float32, len(x.Data))
		for i := range R {
			R[i] = float32(r.NormFloat64())
		}
		dx := tensor.New(shape...)
		dy, _ := tensor.FromSlice(R, shape...)
		q.Backward(train, x, dy, dx)
		lay := lq.lay
		chOf := func(i int) int { return (i / lay.inner) % lay.channels }
		clipped := 0
		for c := range lq.step.Value.Data {
			s0 := float64(lq.step.Value.Data[c])
			p := lq.ps[c]
			surrogate := func(s float64) float64 {
				var L float64
				for i, v := range x.Data {
					if chOf(i) != c {
						continue
					}
					t0 := v * p.inv // the branch is taken at s0, as the STE does
					var u float64
					switch {
					case t0 < p.lo:
						u = float64(p.lo)
					case t0 > p.hi:
						u = float64(p.hi)
					default:
						u = float64(v)/s + (math.RoundToEven(float64(t0)) - float64(t0))
					}
					L += float64(R[i]) * s * u
				}
				return L
			}
			eps := 1e-4 * s0
			num := (surrogate(s0+eps) - surrogate(s0-eps)) / (2 * eps)
			ana := float64(lq.step.Grad.Data[c]) / lq.GradScale(c)
			if math.Abs(num-ana) > 1e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%v channel %d: step gradient %v, finite difference %v", spec.Bits, c, ana, num)
			}
		}
		for i, v := range x.Data {
			p := lq.ps[chOf(i)]
			tt := v * p.inv
			want := R[i]
			if tt < p.lo || tt > p.hi {
				want = 0
				clipped++
			}
			if dx.Data[i] != want {
				t.Errorf("dx[%d] = %v, want %v", i, dx.Data[i], want)
			}
		}
		if clipped == 0 {
			t.Errorf("%d bits: no value clipped; the test does not cover the clipped branch", spec.Bits)
		}
		// g = 1/sqrt(N*Qp), N values per channel.
		n := float64(x.Size() / lay.channels)
		if g := lq.GradScale(0); math.Abs(g-1/math.Sqrt(n*float64(lq.ps[0].hi))) > 1e-12 {
			t.Errorf("grad scale %v", g)
		}
	}
}

func TestLSQInit(t *testing.T) {
	q := mustQ(t, Spec{Kind: KindLSQ, Bits: 8}, 4)
	y := tensor.New(4)
	q.Forward(&nn.Context{Training: true}, vec(0, 1, 2, 5), y) // non-negative: zp = qmin
	s, zp := q.Scales()
	want := float32(2 * 2 / math.Sqrt(255)) // 2*mean|x|/sqrt(Qp), Qp = 127+128
	if zp[0] != -128 || math.Abs(float64(s[0]-want)) > 1e-6 {
		t.Fatalf("LSQ init scale %v zp %v, want %v -128", s, zp, want)
	}
}
