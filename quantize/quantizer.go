package quantize

import (
	"github.com/goqat/goqat/qmath"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Quantizer fake-quantizes one tensor (a weight, an activation or the model
// input) and keeps the state its range comes from (min/max, EMA, step size,
// an "initialised" flag) in nn.Params, so that nn.Save and nn.Load persist
// it and training resumes from it. In inference mode (Context.Training
// false) the range is frozen, except that a quantizer that has never seen a
// tensor initialises itself from the first one.
type Quantizer interface {
	// Spec returns the quantizer's description.
	Spec() Spec
	// Build creates the state for a tensor of the given shape (a weight's
	// full shape, or an activation's per-sample shape); prefix names the
	// state parameters ("kernel_quant" gives "kernel_quant_min", ...).
	Build(prefix string, shape tensor.Shape) error
	// Params returns the state (nil before Build): non-trainable, except
	// LSQ's step size.
	Params() []*nn.Param
	// Forward fake-quantizes x into y (same shape; y may alias x), first
	// updating the range from x when c.Training.
	Forward(c *nn.Context, x, y *tensor.Tensor)
	// Backward writes the straight-through gradient dx (dx may alias dy)
	// for the x of the last Forward: dy inside the range, 0 outside; LSQ
	// also sets its step size's gradient.
	Backward(c *nn.Context, x, dy, dx *tensor.Tensor)
	// Scales returns the scale and zero point per channel (one for a
	// per-tensor quantizer) that the current state gives, computed with
	// Params: what conversion needs.
	Scales() (scale []float32, zeroPoint []int32)
}

// rangeState is the state of the min/max quantizers (LastValue,
// MovingAverage, AllValues): per-channel min and max and an initialised
// flag, and the fake quant constants derived from them.
type rangeState struct {
	spec     Spec
	lay      layout
	group    int       // the axis's channels per channel of lay (Spec.GroupSize)
	min, max *nn.Param // (channels)
	init     *nn.Param // (1): 1 once a range was recorded
	params   []*nn.Param
	ps       []fq
	qmin     int32
	qmax     int32
	pm       parMinMax
}

// Spec returns the quantizer's description.
func (r *rangeState) Spec() Spec { return r.spec }

// Params returns min, max and the initialised flag.
func (r *rangeState) Params() []*nn.Param { return r.params }

// build creates the state for a tensor shape.
func (r *rangeState) build(prefix string, shape tensor.Shape) error {
	lay, group, err := r.spec.layout(shape)
	if err != nil {
		return err
	}
	r.lay, r.group = lay, group
	r.qmin, r.qmax = qmath.QRange(r.spec.Bits, r.spec.Narrow)
	r.min = nn.NewParam(prefix+"_min", false, r.lay.channels)
	r.max = nn.NewParam(prefix+"_max", false, r.lay.channels)
	r.init = nn.NewParam(prefix+"_init", false, 1)
	r.params = []*nn.Param{r.min, r.max, r.init}
	r.ps = make([]fq, r.lay.channels)
	return nil
}

// initialised reports whether a range was recorded.
func (r *rangeState) initialised() bool { return r.init.Value.Data[0] != 0 }

// refresh recomputes the fake quant constants from min and max.
func (r *rangeState) refresh() {
	lo, hi := r.min.Value.Data, r.max.Value.Data
	for c := range r.ps {
		s, zp := qmath.Params(lo[c], hi[c], r.spec.Bits, r.spec.Narrow, r.spec.Symmetric)
		r.ps[c] = newFQ(s, zp, r.qmin, r.qmax)
	}
}

// Scales returns the per-channel scale and zero point of the state (a
// group's repeated for each of its channels).
func (r *rangeState) Scales() ([]float32, []int32) {
	s := make([]float32, r.lay.channels)
	z := make([]int32, r.lay.channels)
	for c := range s {
		s[c], z[c] = qmath.Params(r.min.Value.Data[c], r.max.Value.Data[c], r.spec.Bits, r.spec.Narrow, r.spec.Symmetric)
	}
	return perChannel(s, r.group), perChannel(z, r.group)
}

// tensorFQ returns the constants of a per-tensor quantizer as of the last
// refresh (false if it is per channel).
func (r *rangeState) tensorFQ() (fq, bool) {
	if r.lay.channels != 1 {
		return fq{}, false
	}
	return r.ps[0], true
}

// apply fake-quantizes with the current constants.
func (r *rangeState) apply(x, y *tensor.Tensor) { applyLayout(r.ps, r.lay, x.Data, y.Data) }

// Backward writes the straight-through gradient.
func (r *rangeState) Backward(c *nn.Context, x, dy, dx *tensor.Tensor) {
	steLayout(r.ps, r.lay, x.Data, dy.Data, dx.Data)
}

// channelMinMax writes the per-channel min and max of x into lo and hi.
func (r *rangeState) channelMinMax(x []float32, lo, hi []float32) {
	if r.lay.channels == 1 {
		lo[0], hi[0] = r.pm.run(x)
		return
	}
	C, in := r.lay.channels, r.lay.inner
	for c := range lo {
		lo[c], hi[c] = 0, 0
	}
	if in == 1 {
		// One value per channel and row: minMax of one value v is (v, v),
		// or (0, 0) for a NaN, folded in as below.
		for base := 0; base+C <= len(x); base += C {
			xr := x[base : base+C]
			lr, hr := lo[:len(xr)], hi[:len(xr)]
			for c, v := range xr {
				l, h := v, v
				if v != v {
					l, h = 0, 0
				}
				if base == 0 || l < lr[c] {
					lr[c] = l
				}
				if base == 0 || h > hr[c] {
					hr[c] = h
				}
			}
		}
		return
	}
	first := true
	for base := 0; base < len(x); base += C * in {
		for c := 0; c < C; c++ {
			l, h := minMax(x[base+c*in : base+(c+1)*in])
			if first || l < lo[c] {
				lo[c] = l
			}
			if first || h > hi[c] {
				hi[c] = h
			}
		}
		first = false
	}
}
