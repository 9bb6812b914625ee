package datasets

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// slowSource is a Source over a Dataset whose Read sleeps and can fail.
type slowSource struct {
	*Dataset
	delay time.Duration
	bad   int // the example whose Read fails (-1: none)
}

func (s *slowSource) Read(i int, dst []float32) error {
	time.Sleep(s.delay)
	if i == s.bad {
		return fmt.Errorf("example %d is unreadable", i)
	}
	return s.Dataset.Read(i, dst)
}

// imageSet is n distinct 6x5x3 images, labels i mod 3.
func imageSet(n int) *Dataset {
	const h, w, c = 6, 5, 3
	x := tensor.New(n, h, w, c)
	y := tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(i%251) / 251
	}
	for i := range n {
		y.Data[i] = float32(i % 3)
	}
	return &Dataset{Name: "images", X: x, Y: y, Classes: 3, ClassNames: []string{"a", "b", "c"}}
}

// noLeak fails t if goroutines started after before are still running a
// second later.
func noLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running (%d before)", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// epochBatches reads every batch of one epoch from l.
func epochBatches(t *testing.T, l *Loader, epoch int, order []int, batch, from int) (xs, ys [][]float32) {
	t.Helper()
	if err := l.StartEpoch(context.Background(), epoch, order, batch, from); err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	for k := from; k < (len(order)+batch-1)/batch; k++ {
		x, y, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, slices.Clone(x.Data)), append(ys, slices.Clone(y.Data))
	}
	if _, _, err := l.Next(); err == nil {
		t.Error("Next after the last batch: no error")
	}
	return xs, ys
}

func TestLoaderOrder(t *testing.T) {
	d := imageSet(23)
	order := []int{5, 3, 22, 0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}
	before := runtime.NumGoroutine()
	for _, workers := range []int{1, 2, 3} {
		l, err := NewLoader(d, LoaderOptions{Workers: workers, Prefetch: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, from := range []int{0, 2} {
			xs, ys := epochBatches(t, l, 0, order, 5, from)
			if len(xs) != 5-from {
				t.Fatalf("%d workers, from %d: %d batches, want %d", workers, from, len(xs), 5-from)
			}
			for k := range xs {
				idx := order[(from+k)*5 : min(len(order), (from+k+1)*5)]
				want := gatherRows(d, idx)
				if !slices.Equal(xs[k], want) {
					t.Fatalf("%d workers, batch %d: not the examples %v", workers, from+k, idx)
				}
				for j, i := range idx {
					if ys[k][j] != d.Y.Data[i] {
						t.Fatalf("%d workers, batch %d: label %v, want %v", workers, from+k, ys[k][j], d.Y.Data[i])
					}
				}
			}
		}
		st := l.Stats()
		if st.Batches != 8 || st.Examples != 23+13 {
			t.Errorf("%d workers: stats %+v, want 8 batches of 36 examples", workers, st)
		}
	}
	noLeak(t, before)
}

// gatherRows copies d's examples idx, in order.
func gatherRows(d *Dataset, idx []int) []float32 {
	sz := d.X.Shape[1:].Size()
	var out []float32
	for _, i := range idx {
		out = append(out, d.X.Data[i*sz:(i+1)*sz]...)
	}
	return out
}

func TestLoaderAugmentSameForAnyWorkers(t *testing.T) {
	d := imageSet(40)
	a, err := ParseAugment("resized-crop,crop:1,flip", 9)
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int, 40)
	for i := range order {
		order[i] = (i * 7) % 40
	}
	var ref [][]float32
	for _, workers := range []int{1, 2, 4} {
		l, err := NewLoader(&slowSource{Dataset: d, delay: time.Duration(workers) * 100 * time.Microsecond, bad: -1},
			LoaderOptions{Workers: workers, Augment: a})
		if err != nil {
			t.Fatal(err)
		}
		xs, _ := epochBatches(t, l, 2, order, 6, 0)
		if ref == nil {
			ref = xs
			if slices.Equal(slices.Concat(xs...), gatherRows(d, order)) {
				t.Fatal("augmentation changed nothing")
			}
			continue
		}
		for k := range xs {
			if !slices.Equal(xs[k], ref[k]) {
				t.Fatalf("%d workers: batch %d differs from 1 worker's", workers, k)
			}
		}
	}
	// Another epoch draws other augmentations.
	l, _ := NewLoader(d, LoaderOptions{Augment: a})
	xs, _ := epochBatches(t, l, 3, order, 6, 0)
	if slices.Equal(slices.Concat(xs...), slices.Concat(ref...)) {
		t.Error("epochs 2 and 3 augmented alike")
	}
}

func TestLoaderErrors(t *testing.T) {
	d := imageSet(10)
	if _, err := NewLoader(d, LoaderOptions{Workers: -1}); err == nil {
		t.Error("negative workers: no error")
	}
	a, _ := ParseAugment("flip", 1)
	table := &Dataset{Name: "t", X: tensor.New(4, 3), Y: tensor.New(4), Classes: 1, ClassNames: []string{"x"}}
	if _, err := NewLoader(table, LoaderOptions{Augment: a}); err == nil || !strings.Contains(err.Error(), "images") {
		t.Errorf("augmenting a table: got %v", err)
	}
	l, err := NewLoader(&slowSource{Dataset: d, bad: 7}, LoaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Next(); err == nil {
		t.Error("Next before StartEpoch: no error")
	}
	if err := l.StartEpoch(context.Background(), 0, []int{0, 11}, 2, 0); err == nil {
		t.Error("an index out of range: no error")
	}
	before := runtime.NumGoroutine()
	if err := l.StartEpoch(context.Background(), 0, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Next(); err == nil || !strings.Contains(err.Error(), "example 7 is unreadable") {
		t.Errorf("the batch with a bad example: got %v", err)
	}
	l.Stop()
	l.Stop()
	noLeak(t, before)
}

func TestLoaderCancel(t *testing.T) {
	d := imageSet(200)
	before := runtime.NumGoroutine()
	l, err := NewLoader(&slowSource{Dataset: d, delay: 2 * time.Millisecond, bad: -1}, LoaderOptions{Workers: 3, Prefetch: 6})
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int, 200)
	for i := range order {
		order[i] = i
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.StartEpoch(ctx, 0, order, 4, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	// Workers are busy and the queue is being filled: Next ends with the
	// context's error (or a batch finished before it was seen).
	var nerr error
	for range 50 {
		if _, _, nerr = l.Next(); nerr != nil {
			break
		}
	}
	if !errors.Is(nerr, context.Canceled) {
		t.Errorf("Next after cancel: got %v", nerr)
	}
	l.Stop()
	noLeak(t, before)
	// The loader starts again afterwards.
	if xs, _ := epochBatches(t, l, 1, order[:8], 4, 0); len(xs) != 2 {
		t.Errorf("after a cancelled epoch: %d batches", len(xs))
	}
	noLeak(t, before)
}

func TestLoaderCountsEmptyQueue(t *testing.T) {
	d := imageSet(24)
	l, err := NewLoader(&slowSource{Dataset: d, delay: 3 * time.Millisecond, bad: -1}, LoaderOptions{Workers: 1, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int, 24)
	for i := range order {
		order[i] = i
	}
	epochBatches(t, l, 0, order, 4, 0)
	// A reader slower than an instant consumer: every batch after the
	// first is waited for.
	if st := l.Stats(); st.Empty != 5 || st.Wait <= 0 {
		t.Errorf("stats %+v, want 5 waits after warm-up", st)
	}
}

// tinyModel is a small dense classifier of 6x5x3 images into 3 classes.
func tinyModel(t *testing.T) *nn.Model {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{6, 5, 3}, nn.NewFlatten(), nn.NewDense(8), nn.NewReLU(), nn.NewDropout(0.2), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2), Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// The loader without augmentation trains bit for bit as the same samples in
// memory, for any number of workers.
func TestLoaderFitBitIdentical(t *testing.T) {
	d := imageSet(50)
	o := nn.FitOptions{BatchSize: 8, Epochs: 3, Seed: 5, Verbose: nn.VerboseSilent}
	ref := tinyModel(t)
	href, err := ref.Fit(context.Background(), d.X, d.Y, o)
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for _, workers := range []int{1, 2} {
		m := tinyModel(t)
		l, err := NewLoader(d, LoaderOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		lo := o
		lo.Batches = l
		h, err := m.Fit(context.Background(), nil, nil, lo)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(h.Loss, href.Loss) {
			t.Errorf("%d workers: losses %v, in memory %v", workers, h.Loss, href.Loss)
		}
		w, wref := m.Params(), ref.Params()
		for i := range w {
			if !slices.Equal(w[i].Value.Data, wref[i].Value.Data) {
				t.Fatalf("%d workers: weight %d differs from the in-memory run's", workers, i)
			}
		}
	}
	noLeak(t, before)
}

// Cancelling Fit while the loader works stops both, leaving no goroutine.
func TestLoaderFitCancel(t *testing.T) {
	d := imageSet(64)
	l, err := NewLoader(&slowSource{Dataset: d, delay: time.Millisecond, bad: -1}, LoaderOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	m := tinyModel(t)
	_, err = m.Fit(ctx, nil, nil, nn.FitOptions{BatchSize: 4, Epochs: 5, Verbose: nn.VerboseSilent, Batches: l,
		OnBatchEnd: func(batch int, _ float64) {
			if batch == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the context's error", err)
	}
	noLeak(t, before)
	// A bad example stops Fit with an error naming it.
	l2, _ := NewLoader(&slowSource{Dataset: d, bad: 40}, LoaderOptions{})
	_, err = tinyModel(t).Fit(context.Background(), nil, nil, nn.FitOptions{BatchSize: 4, Verbose: nn.VerboseSilent, Batches: l2})
	if err == nil || !strings.Contains(err.Error(), "example 40 is unreadable") {
		t.Errorf("a bad example: got %v", err)
	}
	noLeak(t, before)
}

// A run fed by an augmenting loader, cancelled mid-epoch and resumed from
// its checkpoint, ends with the weights of an uninterrupted run, bit for
// bit: the loader restarts the epoch's order at the checkpoint's batch.
func TestLoaderFitResume(t *testing.T) {
	d := imageSet(44)
	a, err := ParseAugment("crop:1,flip", 3)
	if err != nil {
		t.Fatal(err)
	}
	newLoader := func() *Loader {
		l, err := NewLoader(d, LoaderOptions{Workers: 2, Augment: a})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	o := nn.FitOptions{BatchSize: 5, Epochs: 3, Seed: 2, Verbose: nn.VerboseSilent}
	ref := tinyModel(t)
	ro := o
	ro.Batches = newLoader()
	if _, err := ref.Fit(context.Background(), nil, nil, ro); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	m := tinyModel(t)
	io := o
	io.Batches = newLoader()
	io.Checkpoint = &nn.CheckpointOptions{Dir: dir}
	steps := 0
	io.OnBatchEnd = func(int, float64) {
		if steps++; steps == 13 { // epoch 2, batch 4 of 9
			cancel()
		}
	}
	if _, err := m.Fit(ctx, nil, nil, io); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	m2 := tinyModel(t)
	so := o
	so.Batches = newLoader()
	so.Checkpoint = &nn.CheckpointOptions{Dir: dir}
	so.Resume = nn.CheckpointPath(dir)
	if _, err := m2.Fit(context.Background(), nil, nil, so); err != nil {
		t.Fatal(err)
	}
	w, wref := m2.Params(), ref.Params()
	for i := range w {
		if !slices.Equal(w[i].Value.Data, wref[i].Value.Data) {
			t.Fatalf("weight %d of the resumed run differs from the uninterrupted run's", i)
		}
	}
}
