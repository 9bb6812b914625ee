package nn

import (
	"fmt"
	"slices"
	"time"

	"github.com/goqat/goqat/tensor"
)

// ForwardLayers runs m's layers one by one in inference mode (no inference
// plan), for the external tests that compare the plan with it.
func ForwardLayers(m *Model, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	return m.forwardLayers(&Context{}, in)
}

// HasInferPlan reports whether m's inference Forward runs a plan.
func HasInferPlan(m *Model) bool { return m.inferPlanOf() != nil }

// InferOpTime is one op of an inference plan and its median time per call.
type InferOpTime struct {
	Op    string
	Layer string
	Time  time.Duration
}

// InferOpTimes runs m's inference plan on x reps times, op by op (each op
// on the whole batch, split across threads), and returns each op's least
// time by clock (the wall clock if nil; a thread's CPU clock measures a
// single thread on a busy machine): where the time goes, for profiling by
// hand.
func InferOpTimes(m *Model, x *tensor.Tensor, reps int, clock func() time.Duration) []InferOpTime {
	if clock == nil {
		start := time.Now()
		clock = func() time.Duration { return time.Since(start) }
	}
	p := m.inferPlanOf()
	if p == nil {
		return nil
	}
	c := &Context{}
	p.forward(c, []*tensor.Tensor{x})
	ds := make([][]time.Duration, len(p.ops))
	for range reps {
		p.forward(c, []*tensor.Tensor{x}) // prepare and pack as a call does
		// The whole batch at once, its ops split across threads.
		p.chunk = p.n
		p.setup(c, []*tensor.Tensor{x}, 1)
		sh := p.shares[0]
		sh.window(0, p.n)
		for i, op := range p.ops {
			t := clock()
			op.runPar(p, sh)
			ds[i] = append(ds[i], clock()-t)
		}
	}
	var out []InferOpTime
	for i, op := range p.ops {
		d := ds[i]
		slices.Sort(d)
		name := ""
		switch o := op.(type) {
		case *gemmOp:
			if o.conv != nil {
				name = fmt.Sprintf("%s %dx%d/%d K=%d F=%d P=%d", o.conv.Name(), o.g.KH, o.g.KW, o.g.SH, o.K, o.F, o.P)
			} else {
				name = o.dense.Name()
			}
		case *dwOp:
			name = fmt.Sprintf("%s %dx%dx%d s%d", o.l.Name(), o.g.OH, o.g.OW, o.g.C, o.g.SH)
		case *layerOp:
			name = o.l.Name()
		}
		out = append(out, InferOpTime{Op: fmt.Sprintf("%T", op), Layer: name, Time: d[0]})
	}
	return out
}
