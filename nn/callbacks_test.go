package nn

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// fakeLR is an optimizer whose rate ReduceLROnPlateau changes.
type fakeLR struct{ lr float64 }

func (o *fakeLR) Step([]*Param)               {}
func (o *fakeLR) LearningRate() float64       { return o.lr }
func (o *fakeLR) ScaleLearningRate(f float64) { o.lr *= f }
func (o *fakeLR) set(lr float64) *fakeLR      { o.lr = lr; return o }

// tinyTraining is a Training of a one-layer model, all four metrics logged.
func tinyTraining(t *testing.T, opt Optimizer) *Training {
	t.Helper()
	m := must(t)(NewSequential(tensor.Shape{2}, NewDense(2)))
	return &Training{Model: m, Optimizer: opt, Epochs: 100, Metrics: []string{"loss", "accuracy", "val_loss", "val_accuracy"}}
}

// runSeq drives a callback over a hand-made metric sequence and returns
// the epoch after which it stopped training (-1: never).
func runSeq(t *testing.T, cb Callback, tr *Training, name string, seq []float64, each func(epoch int)) int {
	t.Helper()
	if err := cb.TrainBegin(tr); err != nil {
		t.Fatal(err)
	}
	for e, v := range seq {
		if each != nil {
			each(e)
		}
		if err := cb.EpochEnd(tr, e, map[string]float64{"loss": 1, name: v}); err != nil {
			t.Fatal(err)
		}
		if tr.StopTraining {
			if err := cb.TrainEnd(tr); err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	if err := cb.TrainEnd(tr); err != nil {
		t.Fatal(err)
	}
	return -1
}

func TestEarlyStoppingRule(t *testing.T) {
	for _, c := range []struct {
		name     string
		es       EarlyStopping
		metric   string
		seq      []float64
		stop     int
		best     int
		restored int // epoch whose weights are back at the end
	}{
		// 0.79 is not 0.02 better than 0.8: two epochs without improvement.
		{"min delta", EarlyStopping{MinDelta: 0.02, Patience: 2, RestoreBestWeights: true}, "val_loss",
			[]float64{1.0, 0.8, 0.85, 0.79, 0.9, 0.95}, 3, 1, 1},
		{"improvement resets", EarlyStopping{Patience: 2, RestoreBestWeights: true}, "val_loss",
			[]float64{1.0, 0.8, 0.85, 0.79, 0.9, 0.95}, 5, 3, 3},
		{"patience 0", EarlyStopping{Patience: 0, RestoreBestWeights: true}, "val_loss",
			[]float64{1.0, 0.9, 0.95, 0.5}, 2, 1, 1},
		{"auto max for accuracy", EarlyStopping{Monitor: "val_accuracy", Patience: 1, RestoreBestWeights: true}, "val_accuracy",
			[]float64{0.5, 0.7, 0.6, 0.9}, 2, 1, 1},
		{"explicit mode min on accuracy", EarlyStopping{Monitor: "val_accuracy", Mode: ModeMin, Patience: 1}, "val_accuracy",
			[]float64{0.5, 0.7, 0.6, 0.9}, 1, 0, -1},
		{"never stops, still restores", EarlyStopping{Patience: 3, RestoreBestWeights: true}, "val_loss",
			[]float64{1.0, 0.5, 0.6, 0.7}, -1, 1, 1},
		{"NaN never improves", EarlyStopping{Patience: 1}, "val_loss",
			[]float64{1.0, math.NaN(), 0.5}, 1, 0, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := tinyTraining(t, testSGD{})
			es := c.es
			w := tr.Model.Params()[0].Value.Data
			stop := runSeq(t, &es, tr, c.metric, c.seq, func(e int) {
				for i := range w {
					w[i] = float32(e) // the "weights" of epoch e
				}
			})
			if stop != c.stop || es.StoppedEpoch() != c.stop {
				t.Errorf("stopped after epoch %d (StoppedEpoch %d), want %d", stop, es.StoppedEpoch(), c.stop)
			}
			if es.BestEpoch() != c.best {
				t.Errorf("best epoch %d, want %d", es.BestEpoch(), c.best)
			}
			want := float32(c.restored)
			if c.restored < 0 {
				want = float32(len(c.seq) - 1)
				if stop >= 0 {
					want = float32(stop)
				}
			}
			if w[0] != want {
				t.Errorf("weights at the end are epoch %v's, want %v's", w[0], want)
			}
		})
	}
}

func TestEarlyStoppingBadSettings(t *testing.T) {
	tr := tinyTraining(t, testSGD{})
	tr.Metrics = []string{"loss"}
	for _, c := range []struct {
		es   EarlyStopping
		want string
	}{
		{EarlyStopping{}, `"val_loss" is not logged by this Fit; it logs loss (pass validation data)`},
		{EarlyStopping{Monitor: "loss", Patience: -1}, "Patience -1"},
		{EarlyStopping{Monitor: "loss", Mode: "up"}, `mode "up"`},
		{EarlyStopping{Monitor: "loss", MinDelta: -1}, "MinDelta -1"},
	} {
		if err := c.es.TrainBegin(tr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.es, err, c.want)
		}
	}
}

func TestModelCheckpointRule(t *testing.T) {
	tr := tinyTraining(t, testSGD{})
	var saved []int
	epoch := 0
	mc := &ModelCheckpoint{Path: "unused", SaveBestOnly: true, Monitor: "val_accuracy",
		Save: func(string, *Model) error { saved = append(saved, epoch); return nil }}
	runSeq(t, mc, tr, "val_accuracy", []float64{0.5, 0.7, 0.6, 0.7, 0.9, math.NaN()}, func(e int) { epoch = e })
	if want := []int{0, 1, 4}; !equalInts(saved, want) {
		t.Errorf("saved after epochs %v, want %v", saved, want)
	}
	saved = nil
	mc.SaveBestOnly = false
	runSeq(t, mc, tr, "val_accuracy", []float64{0.5, 0.4, 0.3}, func(e int) { epoch = e })
	if want := []int{0, 1, 2}; !equalInts(saved, want) {
		t.Errorf("without SaveBestOnly: saved after epochs %v, want %v", saved, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestModelCheckpointFiles(t *testing.T) {
	dir := t.TempDir()
	tr := tinyTraining(t, testSGD{})
	in := filepath.Join(dir, "in.safetensors")
	if err := Save(in, tr.Model); err != nil {
		t.Fatal(err)
	}
	// The input by another name, and through {epoch}.
	for _, p := range []string{in, filepath.Join(dir, ".", "in.safetensors"), filepath.Join(dir, "i{epoch}.safetensors")} {
		protect := in
		if strings.Contains(p, "{epoch}") {
			protect = filepath.Join(dir, "i1.safetensors")
		}
		mc := &ModelCheckpoint{Path: p, Protect: []string{protect}}
		if err := mc.TrainBegin(tr); err == nil || !strings.Contains(err.Error(), "would overwrite the input") {
			t.Errorf("%s: error %v, want a refusal to overwrite the input", p, err)
		}
	}
	mc := &ModelCheckpoint{Path: dir}
	if err := mc.TrainBegin(tr); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a folder as path: error %v", err)
	}
	mc = &ModelCheckpoint{Path: filepath.Join(dir, "m-{epoch}.safetensors"), Protect: []string{in}}
	runSeq(t, mc, tr, "val_loss", []float64{1, 2}, nil)
	want := []string{filepath.Join(dir, "m-1.safetensors"), filepath.Join(dir, "m-2.safetensors")}
	if got := mc.Saved(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("saved %v, want %v", got, want)
	}
	for _, p := range want {
		if _, err := Load(p); err != nil {
			t.Errorf("load %s: %v", p, err)
		}
	}
}

func TestReduceLROnPlateauRule(t *testing.T) {
	opt := &fakeLR{}
	tr := tinyTraining(t, opt)
	r := &ReduceLROnPlateau{Factor: 0.5, Patience: 2, Cooldown: 1, MinLR: 0.3, MinDelta: 0.01}
	if err := r.TrainBegin(tr); err != nil {
		t.Fatal(err)
	}
	opt.set(1)
	seq := []float64{1.0, 0.9, 0.895, 0.9, 0.91, 0.92, 0.93, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89}
	// epoch: 0 best; 1 best; 2 wait 1 (0.005 < delta); 3 wait 2 -> 0.5,
	// cooldown 1; 4 ends the cooldown (wait reset) and counts, as in Keras:
	// wait 1; 5 wait 2 -> max(0.25, MinLR) = 0.3, cooldown 1; 6 wait 1;
	// 7 best; 8 wait 1; 9 wait 2 but the rate is at MinLR: no cut; ...
	want := []float64{1, 1, 1, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3}
	logged := []float64{1, 1, 1, 1, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3}
	for e, v := range seq {
		logs := map[string]float64{"val_loss": v}
		if err := r.EpochEnd(tr, e, logs); err != nil {
			t.Fatal(err)
		}
		if math.Abs(opt.lr-want[e]) > 1e-12 || math.Abs(logs["learning_rate"]-logged[e]) > 1e-12 {
			t.Errorf("epoch %d: rate %v (logged %v), want %v (logged %v)", e, opt.lr, logs["learning_rate"], want[e], logged[e])
		}
	}
	if r.Reductions() != 2 {
		t.Errorf("%d reductions, want 2", r.Reductions())
	}
	for _, bad := range []*ReduceLROnPlateau{{Factor: 1}, {Factor: -0.5}, {Patience: -1}, {MinLR: math.Inf(1)}} {
		if err := bad.TrainBegin(tr); err == nil {
			t.Errorf("%+v: no error", *bad)
		}
	}
	tr.Optimizer = testSGD{}
	if err := (&ReduceLROnPlateau{}).TrainBegin(tr); err == nil || !strings.Contains(err.Error(), "LRScaler") {
		t.Errorf("an optimizer without LRScaler: error %v", err)
	}
}

func TestCSVLogger(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log.csv")
	tr := tinyTraining(t, testSGD{})
	c := &CSVLogger{Path: p}
	if err := c.TrainBegin(tr); err != nil {
		t.Fatal(err)
	}
	for e, logs := range []map[string]float64{
		{"loss": 0.5, "val_loss": 0.25, "accuracy": 0.1},
		{"loss": 0.125, "accuracy": 1.0 / 3},
	} {
		if err := c.EpochEnd(tr, e, logs); err != nil {
			t.Fatal(err)
		}
	}
	want := "epoch,accuracy,loss,val_loss\n0,0.1,0.5,0.25\n1,0.3333333333333333,0.125,NA\n"
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b, want)
	}
	c = &CSVLogger{Path: p, Append: true}
	if err := c.TrainBegin(tr); err != nil {
		t.Fatal(err)
	}
	if err := c.EpochEnd(tr, 2, map[string]float64{"loss": 2, "val_loss": 3, "accuracy": 4}); err != nil {
		t.Fatal(err)
	}
	want += "2,4,2,3\n"
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Errorf("appended CSV:\n%s\nwant:\n%s", b, want)
	}
	c = &CSVLogger{Path: p, Append: true}
	if err := c.TrainBegin(tr); err != nil {
		t.Fatal(err)
	}
	if err := c.EpochEnd(tr, 0, map[string]float64{"loss": 2}); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("append with another header: error %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Errorf("a refused append changed the file")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestFitCallbacks runs a real Fit with all four callbacks on a tiny model.
func TestFitCallbacks(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(1, 120, 3, 8)
	vx, vy := blobs(2, 60, 3, 8)
	// The validation data of blobs(2) have other centers than blobs(1): the
	// validation loss rises soon, so EarlyStopping stops.
	m := newMLP(t)
	opt := &fakeLR{lr: 1}
	ts := &m.train
	ts.opt = scaledSGD{opt}
	es := &EarlyStopping{Patience: 2, RestoreBestWeights: true}
	mc := &ModelCheckpoint{Path: filepath.Join(dir, "best.safetensors"), SaveBestOnly: true}
	rl := &ReduceLROnPlateau{Patience: 1, Factor: 0.5}
	csv := &CSVLogger{Path: filepath.Join(dir, "log.csv")}
	var atEnd []float64
	o := silent
	o.Epochs, o.ValidationX, o.ValidationY = 30, vx, vy
	o.Callbacks = []Callback{rl, es, mc, csv}
	o.OnEpochEnd = func(_ int, logs map[string]float64) error { atEnd = append(atEnd, logs["val_loss"]); return nil }
	h, err := m.Fit(context.Background(), x, y, o)
	if err != nil {
		t.Fatal(err)
	}
	stop := es.StoppedEpoch()
	if stop < 0 || len(h.Epoch) != stop+1 {
		t.Fatalf("stopped at %d with %d epochs of history; want an early stop (val_loss %v)", stop, len(h.Epoch), h.ValLoss)
	}
	best := 0
	for i, v := range h.ValLoss {
		if v < h.ValLoss[best] {
			best = i
		}
	}
	if es.BestEpoch() != best || es.Best() != h.ValLoss[best] {
		t.Errorf("best epoch %d (%v), want %d (%v)", es.BestEpoch(), es.Best(), best, h.ValLoss[best])
	}
	// The restored weights are the best epoch's, which ModelCheckpoint saved.
	saved, err := Load(mc.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(weightBits(saved), weightBits(m)) {
		t.Errorf("restored weights differ from the best checkpoint's")
	}
	loss, _, err := m.Evaluate(context.Background(), vx, vy, EvaluateOptions{BatchSize: o.BatchSize, Verbose: VerboseSilent})
	if err != nil || loss != h.ValLoss[best] {
		t.Errorf("validation loss after restoring %v (%v), want the best %v", loss, err, h.ValLoss[best])
	}
	b, err := os.ReadFile(csv.Path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss" || len(lines) != len(h.Epoch)+1 {
		t.Errorf("CSV header %q and %d rows for %d epochs", lines[0], len(lines)-1, len(h.Epoch))
	}
	if rl.Reductions() == 0 || opt.lr >= 1 {
		t.Errorf("ReduceLROnPlateau: %d reductions, rate %v", rl.Reductions(), opt.lr)
	}
}

// scaledSGD is plain SGD whose rate comes from a fakeLR.
type scaledSGD struct{ *fakeLR }

func (o scaledSGD) Step(ps []*Param) { testSGD{float32(o.lr) * 0.05}.Step(ps) }

// TestFitCallbacksKeepTraining checks that callbacks which change nothing
// leave training bit-identical to a Fit without them.
func TestFitCallbacksKeepTraining(t *testing.T) {
	x, y := blobs(1, 100, 3, 8)
	vx, vy := blobs(3, 40, 3, 8)
	run := func(cbs ...Callback) []uint32 {
		m := newMLP(t)
		o := silent
		o.Epochs, o.ValidationX, o.ValidationY, o.Seed = 3, vx, vy, 4
		o.Callbacks = cbs
		if _, err := m.Fit(context.Background(), x, y, o); err != nil {
			t.Fatal(err)
		}
		return weightBits(m)
	}
	dir := t.TempDir()
	plain := run()
	with := run(&EarlyStopping{Patience: 100}, &CSVLogger{Path: filepath.Join(dir, "a.csv")},
		&ModelCheckpoint{Path: filepath.Join(dir, "m.safetensors")})
	if !sameBits(plain, with) {
		t.Errorf("callbacks that act on nothing changed the weights")
	}
}

func TestFitCallbackErrors(t *testing.T) {
	x, y := blobs(1, 50, 3, 8)
	m := newMLP(t)
	o := silent
	o.Callbacks = []Callback{&EarlyStopping{}}
	if _, err := m.Fit(context.Background(), x, y, o); err == nil || !strings.Contains(err.Error(), "pass validation data") {
		t.Errorf("EarlyStopping on val_loss without validation: error %v", err)
	}
	if m.Step() != 0 {
		t.Errorf("%d steps were taken before the callback's error", m.Step())
	}
	o.Callbacks = []Callback{nil}
	if _, err := m.Fit(context.Background(), x, y, o); err == nil || !strings.Contains(err.Error(), "callback 0 is nil") {
		t.Errorf("a nil callback: error %v", err)
	}
}
