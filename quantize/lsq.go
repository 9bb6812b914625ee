package quantize

import (
	"math"

	"github.com/goqat/goqat/qmath"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// lsqMinStep keeps a learned step size positive.
const lsqMinStep = 1e-8

// LSQ is the learned step size quantizer (Esser et al., ICLR 2020): the
// scale s is a trainable parameter ("<prefix>_step", one per channel with
// PerAxis, or per group of Spec.GroupSize channels), and
//
//	y = s * clamp(round_half_even(x/s), lo, hi),   lo = qmin-zp, hi = qmax-zp
//	dy/dx = 1 inside [lo*s, hi*s], 0 outside (straight through)
//	dy/ds = round(x/s) - x/s inside, lo below, hi above
//
// with the step's gradient scaled by g = 1/sqrt(N*Qp), N the number of
// values per channel or group (per sample for activations), Qp = hi. The
// step is initialised from the first tensor seen as 2*mean|x|/sqrt(Qp).
// The zero point is fixed at initialisation: 0 if Spec.Symmetric or if
// that tensor has negative values, else qmin (an unsigned-like range for
// non-negative activations such as ReLU outputs).
type LSQ struct {
	spec   Spec
	lay    layout
	group  int // the axis's channels per channel of lay (Spec.GroupSize)
	n      int // values per channel per sample (or per weight tensor)
	step   *nn.Param
	zp     *nn.Param // (channels), integers stored as float32
	init   *nn.Param // (1)
	params []*nn.Param
	ps     []fq
	qmin   int32
	qmax   int32
	sums   []float64
}

// Spec returns the quantizer's description.
func (q *LSQ) Spec() Spec { return q.spec }

// Params returns the trainable step size, the zero point and the
// initialised flag.
func (q *LSQ) Params() []*nn.Param { return q.params }

// Build creates the state.
func (q *LSQ) Build(prefix string, shape tensor.Shape) error {
	lay, group, err := q.spec.layout(shape)
	if err != nil {
		return err
	}
	q.lay, q.group = lay, group
	q.n = max(1, shape.Size()/q.lay.channels)
	q.qmin, q.qmax = qmath.QRange(q.spec.Bits, q.spec.Narrow)
	q.step = nn.NewParam(prefix+"_step", true, q.lay.channels)
	q.zp = nn.NewParam(prefix+"_zero_point", false, q.lay.channels)
	q.init = nn.NewParam(prefix+"_init", false, 1)
	q.params = []*nn.Param{q.step, q.zp, q.init}
	q.ps = make([]fq, q.lay.channels)
	q.sums = make([]float64, q.lay.channels)
	return nil
}

// initialise sets the zero point and the step from x.
func (q *LSQ) initialise(x []float32) {
	C := q.lay.channels
	zp := float32(0)
	if !q.spec.Symmetric {
		if lo, _ := parallelMinMax(x); lo >= 0 {
			zp = float32(q.qmin)
		}
	}
	clear(q.sums)
	cnt := make([]int, C)
	q.forChannels(len(x), func(c, lo, hi int) {
		for _, v := range x[lo:hi] {
			q.sums[c] += math.Abs(float64(v))
		}
		cnt[c] += hi - lo
	})
	for c := 0; c < C; c++ {
		q.zp.Value.Data[c] = zp
		qp := float64(q.qmax) - float64(zp)
		s := 2 * q.sums[c] / float64(max(1, cnt[c])) / math.Sqrt(qp)
		q.step.Value.Data[c] = float32(max(s, lsqMinStep))
	}
	q.init.Value.Data[0] = 1
}

// forChannels calls fn for each run [lo, hi) of n values that belong to one
// channel, in order.
func (q *LSQ) forChannels(n int, fn func(c, lo, hi int)) {
	C, in := q.lay.channels, q.lay.inner
	if C == 1 {
		fn(0, 0, n)
		return
	}
	for base := 0; base < n; base += C * in {
		for c := 0; c < C; c++ {
			fn(c, base+c*in, base+(c+1)*in)
		}
	}
}

// refresh recomputes the fake quant constants from the step and zero point.
func (q *LSQ) refresh() {
	for c := range q.ps {
		s := max(q.step.Value.Data[c], lsqMinStep)
		q.ps[c] = newFQ(s, int32(q.zp.Value.Data[c]), q.qmin, q.qmax)
	}
}

// Forward initialises the step from x the first time, then fake-quantizes x
// into y with the current step.
func (q *LSQ) Forward(c *nn.Context, x, y *tensor.Tensor) {
	if !(q.init.Value.Data[0] != 0) {
		q.initialise(x.Data)
	}
	q.refresh()
	applyLayout(q.ps, q.lay, x.Data, y.Data)
}

// Backward writes dx (straight through) and the step's gradient, summed in
// float64 in element order.
func (q *LSQ) Backward(c *nn.Context, x, dy, dx *tensor.Tensor) {
	clear(q.sums)
	xs, dys, dxs := x.Data, dy.Data, dx.Data
	q.forChannels(len(xs), func(ch, lo, hi int) {
		p := q.ps[ch]
		var s float64
		xr, gr, dr := xs[lo:hi], dys[lo:hi], dxs[lo:hi]
		gr = gr[:len(xr)]
		dr = dr[:len(xr)]
		for i, v := range xr {
			t := v * p.inv
			g := gr[i]
			switch {
			case t < p.lo:
				s += float64(g) * float64(p.lo)
				dr[i] = 0
			case t > p.hi:
				s += float64(g) * float64(p.hi)
				dr[i] = 0
			default:
				s += float64(g) * float64((t+qmath.RoundMagic)-qmath.RoundMagic-t)
				dr[i] = g
			}
		}
		q.sums[ch] += s
	})
	for ch := range q.sums {
		g := 1 / math.Sqrt(float64(q.n)*float64(q.ps[ch].hi))
		q.step.Grad.Data[ch] = float32(q.sums[ch] * g)
	}
}

// Scales returns the step sizes and zero points, one per channel (a
// group's repeated for each of its channels).
func (q *LSQ) Scales() ([]float32, []int32) {
	s := make([]float32, q.lay.channels)
	z := make([]int32, q.lay.channels)
	for c := range s {
		s[c] = max(q.step.Value.Data[c], lsqMinStep)
		z[c] = int32(q.zp.Value.Data[c])
	}
	return perChannel(s, q.group), perChannel(z, q.group)
}

// GradScale returns LSQ's gradient scale g = 1/sqrt(N*Qp) of channel c
// (after Build and a Forward).
func (q *LSQ) GradScale(c int) float64 {
	return 1 / math.Sqrt(float64(q.n)*float64(q.ps[c].hi))
}
