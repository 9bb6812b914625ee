package distributed

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// rankOnly is a communicator that only knows its rank and size.
type rankOnly struct {
	Local
	r, n int
}

func (c rankOnly) Rank() int { return c.r }
func (c rankOnly) Size() int { return c.n }

// TestBlocks checks that the ranks' blocks partition every batch, in
// order, in blocks whose sizes differ by at most one.
func TestBlocks(t *testing.T) {
	for n := 1; n <= 4; n++ {
		for per := 1; per <= 3; per++ {
			for b := 0; b <= 13; b++ {
				batch := make([]int, b)
				for i := range batch {
					batch[i] = 100 + i
				}
				var got []int
				lo, hi := math.MaxInt, 0
				for r := 0; r < n; r++ {
					tr, err := NewTrainer(rankOnly{r: r, n: n}, n*per)
					if err != nil {
						t.Fatal(err)
					}
					first, blocks := tr.Blocks(batch)
					if first != r*per || len(blocks) != per {
						t.Fatalf("n=%d rank %d: first block %d, %d blocks", n, r, first, len(blocks))
					}
					for _, bl := range blocks {
						got = append(got, bl...)
						lo, hi = min(lo, len(bl)), max(hi, len(bl))
					}
				}
				if len(got) != b || hi-lo > 1 {
					t.Fatalf("n=%d per=%d b=%d: blocks %v (sizes %d..%d)", n, per, b, got, lo, hi)
				}
				for i, v := range got {
					if v != batch[i] {
						t.Fatalf("n=%d per=%d b=%d: blocks %v do not partition %v in order", n, per, b, got, batch)
					}
				}
			}
		}
	}
	if _, err := NewTrainer(rankOnly{n: 2}, 3); err == nil {
		t.Fatalf("3 blocks on 2 ranks accepted")
	}
}

// tinyData returns n samples of 6x6x1 images and 3 classes, from seed.
func tinyData(n int, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 1))
	x, y := tensor.New(n, 6, 6, 1), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	return x, y
}

// tinyModel returns a compiled model with the given layers after the input,
// its weights from seed 7.
func tinyModel(t *testing.T, layers func() []nn.Layer) *nn.Model {
	return buildTiny(t, layers, false)
}

// buildTiny is tinyModel, wrapped for QAT (folded BatchNorm,
// moving-average activation ranges) if qat.
func buildTiny(t *testing.T, layers func() []nn.Layer, qat bool) *nn.Model {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{6, 6, 1}, layers()...)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(7)
	if qat {
		if m, err = quantize.Model(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2), Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func convBN() []nn.Layer {
	return []nn.Layer{nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(3)}
}

// values returns a copy of every parameter's values (trainable or not).
func values(m *nn.Model) [][]float32 {
	var v [][]float32
	for _, p := range m.Params() {
		v = append(v, append([]float32(nil), p.Value.Data...))
	}
	return v
}

// maxDiff is the largest absolute difference between two models' values,
// and whether they are equal bit for bit.
func maxDiff(a, b [][]float32) (float64, bool) {
	d, same := 0.0, true
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				same = false
			}
			d = max(d, math.Abs(float64(a[i][j])-float64(b[i][j])))
		}
	}
	return d, same
}

func fitOpts() nn.FitOptions {
	return nn.FitOptions{BatchSize: 10, Epochs: 2, Seed: 3, Verbose: nn.VerboseSilent}
}

// TestLocalTrainerIsFit checks that a data-parallel Fit on the one-rank
// communicator is Fit, bit for bit.
func TestLocalTrainerIsFit(t *testing.T) {
	x, y := tinyData(45, 1)
	a, b := tinyModel(t, convBN), tinyModel(t, convBN)
	ha, err := a.Fit(context.Background(), x, y, fitOpts())
	if err != nil {
		t.Fatal(err)
	}
	o := fitOpts()
	o.DataParallel = mustTrainer(t, Local{}, 0)
	hb, err := b.Fit(context.Background(), x, y, o)
	if err != nil {
		t.Fatal(err)
	}
	if d, same := maxDiff(values(a), values(b)); !same {
		t.Fatalf("weights differ (max %g)", d)
	}
	if ha.Loss[1] != hb.Loss[1] || ha.Accuracy[1] != hb.Accuracy[1] {
		t.Fatalf("history differs: %v %v, %v %v", ha.Loss, ha.Accuracy, hb.Loss, hb.Accuracy)
	}
}

// trainRanks trains one replica per rank of an in-process job of n ranks
// and returns their values and histories.
func trainRanks(t *testing.T, n, blocks int, layers func() []nn.Layer, x, y *tensor.Tensor) ([][][]float32, []*nn.History) {
	return trainRanksQAT(t, n, blocks, layers, false, x, y)
}

// trainRanksQAT is trainRanks, on QAT models if qat.
func trainRanksQAT(t *testing.T, n, blocks int, layers func() []nn.Layer, qat bool, x, y *tensor.Tensor) ([][][]float32, []*nn.History) {
	t.Helper()
	comms := newGroup(n)
	vals, hs, errs := make([][][]float32, n), make([]*nn.History, n), make([]error, n)
	models := make([]*nn.Model, n)
	for r := range models {
		models[r] = buildTiny(t, layers, qat)
	}
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := fitOpts()
			o.DataParallel = mustTrainer(t, comms[r], blocks)
			hs[r], errs[r] = models[r].Fit(context.Background(), x, y, o)
			vals[r] = values(models[r])
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return vals, hs
}

func convNoBN() []nn.Layer {
	return []nn.Layer{nn.NewConv2D(4, 3, 3), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(3)}
}

// TestRanksAgree trains 2 and 3 in-process ranks: every rank must end
// with the same model bit for bit (the reduction is the same on every
// rank, the state is rank 0's) and the same history; with 4 ranks, the
// last batch of 2 samples leaves two ranks with an empty share.
func TestRanksAgree(t *testing.T) {
	for _, n := range []int{2, 3, 4} {
		x, y := tinyData(45, 1)
		if n == 4 {
			x, y = tinyData(42, 1)
		}
		vals, hs := trainRanks(t, n, 0, convBN, x, y)
		for r := 1; r < n; r++ {
			if d, same := maxDiff(vals[0], vals[r]); !same {
				t.Fatalf("%d ranks: rank %d differs from rank 0 (max %g)", n, r, d)
			}
			if hs[r].Loss[1] != hs[0].Loss[1] || hs[r].Accuracy[1] != hs[0].Accuracy[1] {
				t.Fatalf("%d ranks: rank %d's history differs", n, r)
			}
		}
	}
}

// TestRanksMatchOneProcess trains a model without BatchNorm on 2 and 3
// in-process ranks and on one process with the same global batches: the
// models must agree to float32 rounding (docs/distributed.md,
// Determinism: the ranks' float32 gradient sums are associated per rank,
// so the agreement is not bit for bit), and the losses too.
func TestRanksMatchOneProcess(t *testing.T) {
	x, y := tinyData(45, 1)
	one := tinyModel(t, convNoBN)
	h1, err := one.Fit(context.Background(), x, y, fitOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 3} {
		vals, hs := trainRanks(t, n, 0, convNoBN, x, y)
		d, same := maxDiff(values(one), vals[0])
		t.Logf("%d ranks vs 1 process: max |diff| %g, bit-identical %v", n, d, same)
		if d > 1e-5 {
			t.Fatalf("%d ranks: max |diff| %g from one process's model", n, d)
		}
		for e := range h1.Loss {
			if math.Abs(hs[0].Loss[e]-h1.Loss[e]) > 1e-6 || hs[0].Accuracy[e] != h1.Accuracy[e] {
				t.Fatalf("%d ranks: epoch %d loss %v accuracy %v, one process %v %v", n, e, hs[0].Loss[e], hs[0].Accuracy[e], h1.Loss[e], h1.Accuracy[e])
			}
		}
	}
}

func mustTrainer(t *testing.T, c Comm, blocks int) *Trainer {
	t.Helper()
	tr, err := NewTrainer(c, blocks)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func convBNDropout() []nn.Layer {
	return []nn.Layer{nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDropout(0.3), nn.NewDense(3)}
}

// TestBlocksAnyRankCount is the determinism contract (docs/distributed.md,
// Determinism): with the same number of sample blocks per batch, one
// process and 2 or 4 ranks end with the same weights, state and history,
// bit for bit: a float model with BatchNorm and Dropout, and its QAT model
// (folded BatchNorm, moving-average ranges). 42 samples in batches of 10:
// the last batch of 2 leaves two of 4 blocks empty.
func TestBlocksAnyRankCount(t *testing.T) {
	defer func(v int) { gatherMaxValues = v }(gatherMaxValues)
	for _, qat := range []bool{false, true} {
		x, y := tinyData(42, 1)
		one := buildTiny(t, convBNDropout, qat)
		o := fitOpts()
		o.DataParallel = mustTrainer(t, Local{}, 4)
		h1, err := one.Fit(context.Background(), x, y, o)
		if err != nil {
			t.Fatal(err)
		}
		want := values(one)
		for _, n := range []int{2, 4} {
			// The gradients' sum by the chain, then by the Allgather a
			// small vector takes: the same bits either way.
			for _, gather := range []int{0, 1 << 30} {
				gatherMaxValues = gather
				vals, hs := trainRanksQAT(t, n, 4, convBNDropout, qat, x, y)
				for r := range vals {
					if d, same := maxDiff(want, vals[r]); !same {
						t.Fatalf("qat %v, %d ranks, gather below %d values, rank %d: weights differ from one process with 4 blocks (max %g)", qat, n, gather, r, d)
					}
					for e := range h1.Loss {
						if hs[r].Loss[e] != h1.Loss[e] || hs[r].Accuracy[e] != h1.Accuracy[e] {
							t.Fatalf("qat %v, %d ranks, rank %d: epoch %d loss %v accuracy %v, one process %v %v", qat, n, r, e, hs[r].Loss[e], hs[r].Accuracy[e], h1.Loss[e], h1.Accuracy[e])
						}
					}
				}
			}
		}
		// The contract is not vacuous: other blocks give other weights.
		other := buildTiny(t, convBNDropout, qat)
		o.DataParallel = mustTrainer(t, Local{}, 2)
		if _, err := other.Fit(context.Background(), x, y, o); err != nil {
			t.Fatal(err)
		}
		if _, same := maxDiff(want, values(other)); same {
			t.Fatalf("qat %v: 2 and 4 blocks gave the same weights", qat)
		}
	}
}

// convBNNoBias is convBNDropout with a convolution without bias (as
// mnist-cnn's), whose gradient BatchNorm would otherwise make zero up to
// rounding.
func convBNNoBias() []nn.Layer {
	return append([]nn.Layer{noBias(nn.NewConv2D(4, 3, 3))}, convBNDropout()[1:]...)
}

// noBias turns c's bias off.
func noBias(c *nn.Conv2D) *nn.Conv2D {
	c.UseBias = false
	return c
}

// trainSync trains a model with synchronized BatchNorm on n in-process
// ranks with blocks blocks and returns every rank's values and history.
func trainSync(t *testing.T, n, blocks int, layers func() []nn.Layer, qat bool, x, y *tensor.Tensor) ([][][]float32, []*nn.History) {
	t.Helper()
	comms := newGroup(n)
	vals, hs, errs := make([][][]float32, n), make([]*nn.History, n), make([]error, n)
	models := make([]*nn.Model, n)
	for r := range models {
		models[r] = buildTiny(t, layers, qat)
	}
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := fitOpts()
			tr := mustTrainer(t, comms[r], blocks)
			tr.SetSyncBN(true)
			o.DataParallel = tr
			hs[r], errs[r] = models[r].Fit(context.Background(), x, y, o)
			vals[r] = values(models[r])
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return vals, hs
}

// TestSyncBNAnyRankCount is the determinism contract with synchronized
// BatchNorm: 4 blocks per batch on one process (4 lanes), 2 ranks (2
// lanes each) and 4 ranks end with the same weights, state and history,
// bit for bit, float and QAT (folded Conv+BN); and synchronized BatchNorm
// is not the per-block one.
func TestSyncBNAnyRankCount(t *testing.T) {
	for _, layers := range []func() []nn.Layer{convBNDropout, convBNNoBias} {
		for _, qat := range []bool{false, true} {
			x, y := tinyData(40, 1)
			want, h1 := trainSync(t, 1, 4, layers, qat, x, y)
			for _, n := range []int{2, 4} {
				vals, hs := trainSync(t, n, 4, layers, qat, x, y)
				for r := range vals {
					if d, same := maxDiff(want[0], vals[r]); !same {
						t.Fatalf("qat %v, %d ranks, rank %d: weights differ from one process with 4 blocks (max %g)", qat, n, r, d)
					}
					for e := range h1[0].Loss {
						if hs[r].Loss[e] != h1[0].Loss[e] || hs[r].Accuracy[e] != h1[0].Accuracy[e] {
							t.Fatalf("qat %v, %d ranks, rank %d: epoch %d loss %v, one process %v", qat, n, r, e, hs[r].Loss[e], h1[0].Loss[e])
						}
					}
				}
			}
			per, _ := trainRanksQAT(t, 4, 4, layers, qat, x, y)
			if _, same := maxDiff(want[0], per[0]); same {
				t.Fatalf("qat %v: synchronized and per-block BatchNorm gave the same weights", qat)
			}
		}
	}
}

// TestSyncBNIsWholeBatch checks what synchronized BatchNorm computes: the
// statistics and gradient of the whole batch, so that 2 and 4 blocks end
// near a plain Fit (one block, the batch's own BatchNorm) up to float
// rounding, much nearer than per-block BatchNorm does.
func TestSyncBNIsWholeBatch(t *testing.T) {
	x, y := tinyData(40, 1)
	// Without the convolution's bias: BatchNorm makes its gradient zero,
	// the rounding noise that stands for it differs between the two runs
	// and Adam scales it up to steps of the learning rate.
	convBN := func() []nn.Layer { return append([]nn.Layer{noBias(nn.NewConv2D(4, 3, 3))}, convBN()[1:]...) }
	one := tinyModel(t, convBN)
	if _, err := one.Fit(context.Background(), x, y, fitOpts()); err != nil {
		t.Fatal(err)
	}
	for _, blocks := range []int{2, 4} {
		synced, _ := trainSync(t, 1, blocks, convBN, false, x, y)
		per, _ := trainRanks(t, 1, blocks, convBN, x, y)
		ds, _ := maxDiff(values(one), synced[0])
		dp, _ := maxDiff(values(one), per[0])
		t.Logf("%d blocks vs one: synchronized max |diff| %g, per-block %g", blocks, ds, dp)
		if ds > 1e-6 || ds*1000 > dp {
			t.Fatalf("%d blocks: synchronized BatchNorm is %g from the whole batch's, per-block %g", blocks, ds, dp)
		}
	}
}

// TestSyncBNEmptyBlock checks the one-line error when a batch has fewer
// samples than blocks (synchronized BatchNorm needs each block's
// statistics).
func TestSyncBNEmptyBlock(t *testing.T) {
	x, y := tinyData(42, 1) // batches of 10: the last has 2 samples for 4 blocks
	m := tinyModel(t, convBN)
	o := fitOpts()
	tr := mustTrainer(t, Local{}, 4)
	tr.SetSyncBN(true)
	o.DataParallel = tr
	_, err := m.Fit(context.Background(), x, y, o)
	if err == nil || !strings.Contains(err.Error(), "a sample in every block") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
}

// TestBlocksLSQ is the determinism contract for LSQ quantizers, whose
// forward pass initialises a trainable step from its first batch: every
// block starts from the step's values and every rank takes block 0's
// initialisation, so one process and 2 ranks agree bit for bit, with
// per-block and with synchronized BatchNorm.
func TestBlocksLSQ(t *testing.T) {
	build := func() *nn.Model {
		m, err := nn.NewSequential(tensor.Shape{6, 6, 1}, convBNDropout()...)
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(7)
		if m, err = quantize.Model(m, quantize.WithScheme(quantize.NBit{WeightBits: 8, ActivationBits: 8, PerAxis: true, LSQ: true})); err != nil {
			t.Fatal(err)
		}
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2), Metrics: []string{"accuracy"}}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	x, y := tinyData(40, 1)
	for _, syncBN := range []bool{false, true} {
		fit := func(m *nn.Model, c Comm) {
			o := fitOpts()
			tr := mustTrainer(t, c, 2)
			tr.SetSyncBN(syncBN)
			o.DataParallel = tr
			if _, err := m.Fit(context.Background(), x, y, o); err != nil {
				t.Error(err)
			}
		}
		one := build()
		fit(one, Local{})
		comms := newGroup(2)
		ms := []*nn.Model{build(), build()}
		var wg sync.WaitGroup
		for r := range ms {
			wg.Add(1)
			go func() { defer wg.Done(); fit(ms[r], comms[r]) }()
		}
		wg.Wait()
		for r := range ms {
			if d, same := maxDiff(values(one), values(ms[r])); !same {
				t.Fatalf("synchronized BatchNorm %v: rank %d differs from one process with 2 blocks (max %g)", syncBN, r, d)
			}
		}
	}
}
