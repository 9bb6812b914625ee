package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// floatRunner returns one inference pass of m on a random batch of the
// given size.
func floatRunner(m *nn.Model, batch int) func() error {
	x := randomBatch(batch, m.Inputs()[0])
	c := &nn.Context{}
	return func() error {
		_, err := m.Forward(c, x)
		return err
	}
}

// randomBatch returns a batch of the given size of samples of the given
// shape, uniform in [0, 1) (the same values every call).
func randomBatch(batch int, shape []int) *tensor.Tensor {
	x := tensor.New(append([]int{batch}, shape...)...)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	return x
}

// int8Interpreter returns an interpreter of the integer model with its
// buffers sized for the batch and a random batch set as its input.
func int8Interpreter(im *lite.Model, batch int) (*lite.Interpreter, error) {
	it, err := lite.NewInterpreter(im)
	if err != nil {
		return nil, err
	}
	if err := it.Allocate(batch); err != nil {
		return nil, err
	}
	if err := it.SetInput(0, randomBatch(batch, im.Tensors[im.Inputs[0]].Shape)); err != nil {
		return nil, err
	}
	return it, nil
}

// int8Runner returns one Invoke of the integer model on a random batch of
// the given size.
func int8Runner(im *lite.Model, batch int) (func() error, error) {
	it, err := int8Interpreter(im, batch)
	if err != nil {
		return nil, err
	}
	return it.Invoke, nil
}

// medianMs times the runs side by side and returns each one's median
// milliseconds per image for a batch of the given size. After warm-up
// passes of each for a tenth of minTime (at least a second), it runs rounds
// until minTime has elapsed (at least five): in each round every run, in
// turn, makes one untimed pass (its caches warm again after the other
// runs) and then timed passes for about 20 ms. So every run sees the same
// phases of a shared, noisy machine, and their ratio is not the ratio of
// two different moments.
func medianMs(ctx context.Context, runs []func() error, batch int, minTime time.Duration) ([]float64, error) {
	reps := make([]int, len(runs))
	for i, run := range runs {
		t := time.Now()
		if err := run(); err != nil {
			return nil, err
		}
		reps[i] = max(1, int(20*time.Millisecond/max(time.Since(t), time.Microsecond)))
	}
	// At least a second of warm-up: on this kind of VM the first second or
	// so of work after a pause runs up to twice as slow (a halted virtual
	// CPU, parked worker threads), more than a tenth of minTime covers.
	for start := time.Now(); time.Since(start) < max(minTime/10, time.Second); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, run := range runs {
			if err := run(); err != nil {
				return nil, err
			}
		}
	}
	ds := make([][]time.Duration, len(runs))
	start := time.Now()
	for rounds := 0; rounds < 5 || time.Since(start) < minTime; rounds++ {
		for i, run := range runs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := run(); err != nil {
				return nil, err
			}
			for range reps[i] {
				t := time.Now()
				if err := run(); err != nil {
					return nil, err
				}
				ds[i] = append(ds[i], time.Since(t))
			}
		}
	}
	ms := make([]float64, len(runs))
	for i, d := range ds {
		slices.Sort(d)
		ms[i] = float64(d[len(d)/2].Nanoseconds()) / 1e6 / float64(batch)
	}
	return ms, nil
}

// timeTraining fits m for one epoch on n synthetic images with random labels
// (batch 128, Adam) and returns training images per second. It changes m's
// weights.
func timeTraining(ctx context.Context, m *nn.Model, n int) (float64, error) {
	in, out := m.Inputs()[0], m.Outputs()[0]
	x := tensor.New(append([]int{n}, in...)...)
	y := tensor.New(n)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(out[len(out)-1]))
	}
	if err := m.Compile(nn.CompileOptions{
		Loss:      nn.SparseCategoricalCrossentropy{FromLogits: true},
		Optimizer: optim.NewAdam(1e-3),
		Metrics:   []string{"accuracy"},
	}); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := m.Fit(ctx, x, y, nn.FitOptions{BatchSize: 128, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// opRow is one op's line of bench --ops.
type opRow struct {
	Index      int     `json:"index"`
	Type       string  `json:"type"`
	Name       string  `json:"name"`
	USPerImage float64 `json:"us_per_image"`
	Share      float64 `json:"share"`
}

// profileInt8 times each op of im at batch size batch (random inputs, for
// about minTime after a warm-up) and prints the table of bench --ops.
func profileInt8(ctx context.Context, im *lite.Model, batch int, minTime time.Duration) ([]opRow, error) {
	it, err := int8Interpreter(im, batch)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := it.Invoke(); err != nil { // warm-up, and the length of a run
		return nil, err
	}
	reps := max(5, int(minTime/max(time.Since(t0), time.Microsecond)))
	ts, err := it.ProfileOps(ctx, reps)
	if err != nil {
		return nil, err
	}
	var total float64
	for _, o := range ts {
		total += o.Seconds
	}
	fmt.Printf("\nint8 ops at batch %d (median of %d runs each):\n", batch, reps)
	fmt.Printf("%-4s %-18s %-30s %10s %7s\n", "#", "op", "name", "us/image", "share")
	rows := make([]opRow, len(ts))
	for i, o := range ts {
		rows[i] = opRow{Index: o.Index, Type: string(o.Type), Name: o.Name, USPerImage: o.Seconds * 1e6 / float64(batch), Share: o.Seconds / total}
		fmt.Printf("%-4d %-18s %-30s %10.3f %6.1f%%\n", o.Index, o.Type, o.Name, rows[i].USPerImage, 100*rows[i].Share)
	}
	fmt.Printf("%-4s %-18s %-30s %10.3f\n", "", "total", "", total*1e6/float64(batch))
	return rows, nil
}

// familyRow is one op family's line of bench --ops: its ops' time per
// image, share of the total, operations per second (a multiply-add
// counts two) and share of the threads' VNNI peak measured in the run.
type familyRow struct {
	Family     string  `json:"family"`
	Ops        int     `json:"ops"`
	USPerImage float64 `json:"us_per_image"`
	Share      float64 `json:"share"`
	GOPS       float64 `json:"gops"`
	OfPeak     float64 `json:"of_peak,omitempty"`
}

// opFamilies sums the op rows of im by family (lite.Model.OpFamily) and
// prints the table; peak is the VNNI peak of the threads in GOPS (0:
// unknown).
func opFamilies(im *lite.Model, rows []opRow, batch int, peak float64) []familyRow {
	var out []familyRow
	idx := map[string]int{}
	var total float64
	for _, r := range rows {
		f := im.OpFamily(r.Index)
		i, ok := idx[f]
		if !ok {
			i, idx[f] = len(out), len(out)
			out = append(out, familyRow{Family: f})
		}
		out[i].Ops++
		out[i].USPerImage += r.USPerImage
		// GOPS accumulates operations per image for now.
		out[i].GOPS += 2 * float64(im.MultiplyAdds(r.Index))
		total += r.USPerImage
	}
	slices.SortStableFunc(out, func(a, b familyRow) int { return cmpDesc(a.USPerImage, b.USPerImage) })
	fmt.Printf("\nint8 op families at batch %d", batch)
	if peak > 0 {
		fmt.Printf(" (VNNI peak of the threads, measured now: %.0f GOPS)", peak)
	}
	fmt.Printf(":\n%-26s %4s %10s %7s %8s %8s\n", "family", "ops", "us/image", "share", "GOPS", "of peak")
	for i := range out {
		r := &out[i]
		r.Share = r.USPerImage / total
		if r.USPerImage > 0 {
			r.GOPS = r.GOPS / (r.USPerImage * 1e3) // ops per image / ns per image
		}
		fmt.Printf("%-26s %4d %10.3f %6.1f%% %8.1f", r.Family, r.Ops, r.USPerImage, 100*r.Share, r.GOPS)
		if peak > 0 && r.GOPS > 0 {
			r.OfPeak = r.GOPS / peak
			fmt.Printf(" %7.1f%%", 100*r.OfPeak)
		}
		fmt.Println()
	}
	return out
}

// cmpDesc orders larger values first.
func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
