package nn_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// oneBlock is a DataParallel of one rank and one block whose Reduce
// returns err, or sets stats to the given values.
type oneBlock struct {
	err   error
	stats []float64
	sums  []float64
}

func (d *oneBlock) Blocks(batch []int) (int, [][]int) { return 0, [][]int{batch} }

func (d *oneBlock) Accumulate(k int, _ []*nn.Param, _ float32, stats []float64) error {
	d.sums = append(d.sums[:0], stats...)
	return nil
}

func (d *oneBlock) Reduce(_ []*nn.Param, stats []float64) error {
	if d.err != nil {
		return d.err
	}
	if d.stats != nil {
		copy(stats, d.stats)
	} else {
		copy(stats, d.sums)
	}
	return nil
}

func dpModel(t *testing.T) *nn.Model {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(1)
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewSGD(0.1, 0), Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDataParallelErrors checks that a data-parallel Fit reports a failed
// reduction with its epoch and step, a non-finite global loss as a
// NonFiniteError, an impossible accuracy count, and a batch source it does
// not support, each as an error.
func TestDataParallelErrors(t *testing.T) {
	x, y := tensor.New(8, 4), tensor.New(8)
	o := nn.FitOptions{BatchSize: 4, Verbose: nn.VerboseSilent}
	cases := []struct {
		dp   *oneBlock
		want string
	}{
		{&oneBlock{err: errors.New("link down")}, "epoch 1, step 1: link down"},
		{&oneBlock{stats: []float64{math.NaN(), 0}}, "loss"},
		{&oneBlock{stats: []float64{1, 5}}, "5 correct predictions in a batch of 4"},
	}
	for _, c := range cases {
		o.DataParallel = c.dp
		_, err := dpModel(t).Fit(context.Background(), x, y, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Fit: %v, want an error with %q", err, c.want)
		}
	}
	var nf *nn.NonFiniteError
	o.DataParallel = &oneBlock{stats: []float64{math.Inf(1), 0}}
	if _, err := dpModel(t).Fit(context.Background(), x, y, o); !errors.As(err, &nf) {
		t.Errorf("Fit with an infinite global loss: %v, want a NonFiniteError", err)
	}
	o.DataParallel = &oneBlock{}
	o.Batches = badSource{}
	if _, err := dpModel(t).Fit(context.Background(), nil, nil, o); err == nil || !strings.Contains(err.Error(), "does not support a batch source") {
		t.Errorf("Fit with Batches: %v", err)
	}
}

// badSource is a batch source Fit must reject before using.
type badSource struct{}

func (badSource) Len() int { return 8 }
func (badSource) StartEpoch(context.Context, int, []int, int, int) error {
	return errors.New("StartEpoch called")
}
func (badSource) Next() (*tensor.Tensor, *tensor.Tensor, error) {
	return nil, nil, errors.New("Next called")
}
func (badSource) Stop() {}
