package lite

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// OpTime is one op's share of an Invoke, from ProfileOps.
type OpTime struct {
	// Index is the op's position in Model.Ops.
	Index int
	// Type and Name are the op's.
	Type OpType
	Name string
	// Seconds is the median time the op took per Invoke.
	Seconds float64
}

// ProfileOps runs the model reps times on the inputs set last, timing each
// op on its own, and returns each op's median time per Invoke, in model
// order. It is the int8 engine's answer to "which layer is slow". Each op
// runs split across threads on its own, as Invoke runs small batches; a
// large batch, which Invoke splits across threads as a whole, can take
// less than the sum. It stops early, with the context's error, when ctx is
// done.
func (it *Interpreter) ProfileOps(ctx context.Context, reps int) ([]OpTime, error) {
	if reps < 1 {
		return nil, fmt.Errorf("lite: ProfileOps: %d repetitions, want at least 1", reps)
	}
	for j, s := range it.set {
		if !s {
			return nil, fmt.Errorf("lite: input %d was not set", j)
		}
	}
	times := make([][]float64, len(it.kernels))
	for r := 0; r < reps; r++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, k := range it.kernels {
			t0 := time.Now()
			k.run(it.n)
			times[i] = append(times[i], time.Since(t0).Seconds())
		}
	}
	out := make([]OpTime, len(it.kernels))
	for i, ts := range times {
		slices.Sort(ts)
		op := &it.m.Ops[i]
		out[i] = OpTime{Index: i, Type: op.Type, Name: op.Name, Seconds: ts[len(ts)/2]}
	}
	return out, nil
}
