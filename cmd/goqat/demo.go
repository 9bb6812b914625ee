package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/plots"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/threads"
	"github.com/spf13/cobra"
)

// demoResult is what `goqat demo` measures, as results.json holds it; its
// JSON names are fixed (docs/DESIGN.md, Command line).
type demoResult struct {
	Model                  string  `json:"model"`
	Dataset                string  `json:"dataset"`
	TrainImages            int     `json:"train_images"`
	TestImages             int     `json:"test_images"`
	Epochs                 int     `json:"epochs"`
	Threads                int     `json:"threads"`
	FloatAccuracy          float64 `json:"float_accuracy"`
	FloatModelBytes        int64   `json:"float_model_bytes"`
	FloatMsPerImageB1      float64 `json:"float_ms_per_image_b1"`
	FloatMsPerImageB64     float64 `json:"float_ms_per_image_b64"`
	TrainSecondsFloatEpoch float64 `json:"train_seconds_float_epoch"`
	Scheme                 string  `json:"scheme"`
	PTQAccuracy            float64 `json:"ptq_accuracy"`
	QATAccuracy            float64 `json:"qat_accuracy"`
	QATModelBytes          int64   `json:"qat_model_bytes"`
	TrainSecondsQATEpoch   float64 `json:"train_seconds_qat_epoch"`
	Int8Accuracy           float64 `json:"int8_accuracy"`
	Int8QATTop1Agreement   float64 `json:"int8_qat_top1_agreement"`
	Int8ModelBytes         int64   `json:"int8_model_bytes"`
	Int8MsPerImageB1       float64 `json:"int8_ms_per_image_b1"`
	Int8MsPerImageB64      float64 `json:"int8_ms_per_image_b64"`
	Int8SpeedupB1          float64 `json:"int8_speedup_b1"`
	Int8SpeedupB64         float64 `json:"int8_speedup_b64"`
	Int8KernelPath         string  `json:"int8_path"`
	F32GEMMPath            string  `json:"f32_gemm_path"`
	Date                   string  `json:"date"`
	// PhaseSeconds is the wall time of each step of the demo, and
	// TotalSeconds of the whole run.
	PhaseSeconds map[string]float64 `json:"phase_seconds"`
	TotalSeconds float64            `json:"total_seconds"`
}

// Demo settings that are not the job itself: how many test images the
// per-layer chart compares, and how long each inference timing runs.
const (
	demoLayersImages = 256
	demoTimingMin    = time.Second
)

// phases records the wall time of the demo's steps, in order.
type phases struct {
	names []string
	secs  map[string]float64
	last  time.Time
}

// newPhases starts the clock.
func newPhases() *phases { return &phases{secs: map[string]float64{}, last: time.Now()} }

// done charges the time since the previous call to the named step (a
// snake_case name, the key in results.json).
func (p *phases) done(name string) {
	now := time.Now()
	if _, ok := p.secs[name]; !ok {
		p.names = append(p.names, name)
	}
	p.secs[name] += now.Sub(p.last).Seconds()
	p.last = now
}

// String lists the steps and their seconds.
func (p *phases) String() string {
	var b strings.Builder
	for i, n := range p.names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.1f s", strings.ReplaceAll(n, "_", " "), p.secs[n])
	}
	return b.String()
}

// demoConfig is what `goqat demo` runs: the float training, the QAT
// fine-tuning (with the training's batch size, seed and verbosity), the
// data, and where the results go.
type demoConfig struct {
	train    trainConfig
	qat      quantizeConfig
	data     dataFlags
	out      string // output folder
	jsonPath string // also write the results to this file ("": no)
}

// Files the demo writes in its output folder.
const (
	demoFloatFile   = "float.safetensors"
	demoQATFile     = "qat.safetensors"
	demoInt8File    = "model.int8.safetensors"
	demoCurvesFile  = "curves.png"
	demoLayersFile  = "layers.png"
	demoResultsFile = "results.json"
)

// checkPaths creates the output folder and checks the demo's outputs
// against each other and its inputs (see checkPaths). --json naming the
// folder's results.json is allowed: the demo then writes it once.
func (cfg *demoConfig) checkPaths() error {
	if cfg.out == "" {
		return fmt.Errorf("--out must name the output folder")
	}
	if st, err := os.Stat(cfg.out); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s is not a folder", cfg.out)
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	results := filepath.Join(cfg.out, demoResultsFile)
	if cfg.jsonPath != "" && samePath(cfg.jsonPath, results) {
		cfg.jsonPath = ""
	}
	var outs []pathArg
	for _, name := range []string{demoFloatFile, demoQATFile, demoInt8File, demoCurvesFile, demoLayersFile, demoResultsFile} {
		outs = append(outs, pathArg{"--out", filepath.Join(cfg.out, name)})
	}
	return checkPaths(cfg.data.inputs(), append(outs, pathArg{"--json", cfg.jsonPath}))
}

// demoRun is what runDemo returns: the results, and what printDemo draws
// and reports besides them.
type demoRun struct {
	res          demoResult
	floatHistory *nn.History           // float training, validated on the test set
	qatHistory   *nn.History           // QAT fine-tuning (nil with no QAT epochs)
	layers       []convert.LayerReport // QAT vs int8 model, per layer
	layerImages  int                   // test images the layer reports compare
	phases       *phases               // wall time of the steps so far
	start        time.Time
}

// fileSize returns the size of the file at path (0 if it cannot be read).
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// runDemo runs the demo: it trains the float model, fine-tunes it with QAT,
// converts it to int8, saves the three models in cfg.out, evaluates the
// int8 model against the QAT model, compares them per layer and times
// float and int8 inference. It prints its progress (the steps' headings,
// the training's progress, the PTQ and int8 accuracies) as it goes;
// printDemo prints the summary and writes the results and charts.
func runDemo(ctx context.Context, cfg *demoConfig) (*demoRun, error) {
	c, q, out := cfg.train, cfg.qat, cfg.out
	r := &demoRun{start: time.Now(), phases: newPhases()}
	ph := r.phases
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	train, test, err := cfg.data.load()
	if err != nil {
		return nil, err
	}
	m, err := buildModel(c.model, train, c.seed)
	if err != nil {
		return nil, err
	}
	ph.done("loading")
	fmt.Printf("goqat demo: %s on %s (%d train, %d test images), %d threads\n\n",
		c.model, train.Name, train.Len(), test.Len(), threads.N())
	fmt.Printf("== Float training, %d epochs\n", c.epochs)
	ts := &trainSet{mem: train, src: train, name: train.Name}
	h, err := fitFloat(ctx, m, ts, test, nil, c)
	if err != nil {
		return nil, err
	}
	ph.done("float_training")
	r.floatHistory = h
	res := &r.res
	*res = demoResult{
		Model: c.model, Dataset: train.Name, TrainImages: train.Len(), TestImages: test.Len(),
		Epochs: c.epochs, Threads: threads.N(), Date: time.Now().UTC().Format(time.DateOnly),
		FloatAccuracy: h.ValAccuracy[len(h.ValAccuracy)-1],
	}
	for _, s := range h.EpochSeconds {
		res.TrainSecondsFloatEpoch += s / float64(len(h.EpochSeconds))
	}
	floatPath := filepath.Join(out, demoFloatFile)
	if err := saveOutput(func() error { return cfg.data.saveModel(floatPath, m, train) }); err != nil {
		return nil, err
	}
	res.FloatModelBytes = fileSize(floatPath)
	ph.done("saving")

	fmt.Printf("\n== Quantization-aware training, %s, %d epoch(s)\n", q.scheme, q.epochs)
	scheme, err := quantize.ParseScheme(q.scheme, q.lsq)
	if err != nil {
		return nil, err
	}
	q.batch, q.seed, q.verbose = c.batch, c.seed, c.verbose
	qr, ptq, err := fineTune(ctx, m, ts, test, nil, q, scheme)
	if err != nil {
		return nil, err
	}
	ph.done("qat") // calibration, PTQ evaluation, training
	r.qatHistory = qr.History
	// With no fine-tuning the QAT model is the PTQ model; otherwise the int8
	// evaluation below measures it.
	res.Scheme, res.PTQAccuracy, res.QATAccuracy = scheme.String(), ptq, ptq
	if q.epochs > 0 {
		res.TrainSecondsQATEpoch = qr.TrainSeconds / float64(q.epochs)
	}
	qatPath := filepath.Join(out, demoQATFile)
	if err := saveOutput(func() error { return saveModelFrom(qatPath, qr.Model, floatPath) }); err != nil {
		return nil, err
	}
	res.QATModelBytes = fileSize(qatPath)
	ph.done("saving")

	fmt.Println("\n== Converting to an integer-only int8 model")
	im, err := convert.Convert(qr.Model)
	if err != nil {
		return nil, err
	}
	int8Path := filepath.Join(out, demoInt8File)
	if err := saveOutput(func() error {
		if err := lite.Save(int8Path, im); err != nil {
			return err
		}
		return datasets.CopyPreprocessing(floatPath, int8Path)
	}); err != nil {
		return nil, err
	}
	res.Int8ModelBytes = fileSize(int8Path)
	ph.done("conversion")
	ag, err := convert.Agreement(ctx, qr.Model, im, test.X, test.Y, convert.AgreementOptions{BatchSize: evalBatch, Verbose: c.verbose})
	if err != nil {
		return nil, err
	}
	res.Int8Accuracy, res.Int8QATTop1Agreement = ag.Int8Accuracy, ag.Top1Agreement
	if q.epochs > 0 {
		res.QATAccuracy = ag.QATAccuracy
	}
	ph.done("int8_evaluation")
	fmt.Printf("int8 accuracy %.2f%%, same top-1 as the QAT model on %.2f%% of the test images\n",
		100*res.Int8Accuracy, 100*res.Int8QATTop1Agreement)
	r.layerImages = min(test.Len(), demoLayersImages)
	if r.layers, err = convert.Compare(qr.Model, im, test.X.Batch(0, r.layerImages)); err != nil {
		return nil, err
	}
	ph.done("plots") // printDemo draws them

	res.F32GEMMPath, res.Int8KernelPath = kernels.ActivePath().String(), lite.KernelPath()
	fmt.Printf("\n== Timing inference (f32 GEMM path %s, int8 path %s)\n", res.F32GEMMPath, res.Int8KernelPath)
	for _, t := range []struct {
		float, int8 *float64
		batch       int
	}{
		{&res.FloatMsPerImageB1, &res.Int8MsPerImageB1, 1},
		{&res.FloatMsPerImageB64, &res.Int8MsPerImageB64, 64},
	} {
		// Float and int8 passes alternate (medianMs).
		run, err := int8Runner(im, t.batch)
		if err != nil {
			return nil, err
		}
		ms, err := medianMs(ctx, []func() error{floatRunner(m, t.batch), run}, t.batch, demoTimingMin)
		if err != nil {
			return nil, err
		}
		*t.float, *t.int8 = ms[0], ms[1]
	}
	ph.done("timing")
	res.Int8SpeedupB1 = res.FloatMsPerImageB1 / res.Int8MsPerImageB1
	res.Int8SpeedupB64 = res.FloatMsPerImageB64 / res.Int8MsPerImageB64
	return r, nil
}

// printDemo draws the training curves (curves.png) and the per-layer
// comparison (layers.png) in cfg.out, prints the summary table and the
// wall time of each step, and writes the results to results.json there
// (and to cfg.jsonPath if set).
func printDemo(r *demoRun, cfg *demoConfig) error {
	c, q, out, res, h := cfg.train, cfg.qat, cfg.out, &r.res, r.floatHistory
	curves := []plots.Curve{
		{Label: "float, train", Loss: h.Loss, Accuracy: h.Accuracy},
		{Label: "float, test", Loss: h.ValLoss, Accuracy: h.ValAccuracy, Dashed: true},
	}
	if r.qatHistory != nil {
		curves = append(curves, plots.Curve{Label: "QAT " + q.scheme + ", train", Loss: r.qatHistory.Loss,
			Accuracy: r.qatHistory.Accuracy, FirstEpoch: len(h.Loss) + 1})
	}
	title := fmt.Sprintf("%s on %s: float training, then QAT", c.model, cfg.data.name)
	if err := saveOutput(func() error { return plots.Curves(filepath.Join(out, demoCurvesFile), title, curves) }); err != nil {
		return err
	}
	title = fmt.Sprintf("%s: QAT vs int8, per layer, %d test images", c.model, r.layerImages)
	if err := saveOutput(func() error { return writeLayersPNG(filepath.Join(out, demoLayersFile), title, r.layers) }); err != nil {
		return err
	}
	r.phases.done("plots")
	fmt.Println()
	fmt.Printf("%-8s %10s %12s %12s %12s %16s\n", "model", "accuracy", "size", "ms/img b=1", "ms/img b=64", "speed-up b=1/64")
	fmt.Printf("%-8s %9.2f%% %10.1fKB %12.4f %12.4f %16s\n", "float", 100*res.FloatAccuracy,
		float64(res.FloatModelBytes)/1024, res.FloatMsPerImageB1, res.FloatMsPerImageB64, "1.00x / 1.00x")
	fmt.Printf("%-8s %9.2f%% %10.1fKB %12s %12s %16s\n", "QAT", 100*res.QATAccuracy,
		float64(res.QATModelBytes)/1024, "-", "-", "-")
	fmt.Printf("%-8s %9.2f%% %10.1fKB %12.4f %12.4f %16s\n", "int8", 100*res.Int8Accuracy,
		float64(res.Int8ModelBytes)/1024, res.Int8MsPerImageB1, res.Int8MsPerImageB64,
		fmt.Sprintf("%.2fx / %.2fx", res.Int8SpeedupB1, res.Int8SpeedupB64))
	fmt.Printf("\nPTQ %s before fine-tuning: %.2f%%. Training: %.1f s per float epoch, %.1f s per QAT epoch. Wrote %s\n",
		q.scheme, 100*res.PTQAccuracy, res.TrainSecondsFloatEpoch, res.TrainSecondsQATEpoch, out)
	res.PhaseSeconds, res.TotalSeconds = r.phases.secs, time.Since(r.start).Seconds()
	fmt.Printf("Wall time %.0f s: %s\n", res.TotalSeconds, r.phases)
	if err := saveOutput(func() error { return writeJSON(filepath.Join(out, demoResultsFile), res) }); err != nil {
		return err
	}
	if cfg.jsonPath != "" {
		return saveOutput(func() error { return writeJSON(cfg.jsonPath, res) })
	}
	return nil
}

func newDemoCmd() *cobra.Command {
	var cfg demoConfig
	c, q, df := &cfg.train, &cfg.qat, &cfg.data
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Train mnist-cnn on the embedded MNIST, fine-tune with QAT, convert to int8, evaluate and time",
		Long: `demo runs goqat's main job end to end with no download: it trains the
built-in model on the embedded MNIST, fine-tunes it with quantization-aware
training, converts it to an integer-only int8 model, evaluates all three,
times float and int8 inference at batch 1 and 64, and writes the models and
results.json to the output folder (--json FILE writes the same results to
FILE too). It ends with the wall time of each step.`,
		Example: `  goqat demo
  goqat demo --epochs 1 --train-limit 6000 --out /tmp/demo
  goqat demo --dataset fashion --model mobilenet-tiny
  goqat demo --json results.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			var err error
			if c.verbose, err = verbosity(c.verbose); err != nil {
				return err
			}
			if err := cfg.checkPaths(); err != nil {
				return err
			}
			return runStoppable(cmd, func(ctx context.Context) error {
				r, err := runDemo(ctx, &cfg)
				if err != nil {
					return err
				}
				return printDemo(r, &cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.model, "model", "mnist-cnn", "built-in model ("+strings.Join(append(models.AllNames(), models.SequenceNames()...), ", ")+")")
	f.IntVar(&c.epochs, "epochs", 2, "float training epochs")
	f.IntVar(&c.batch, "batch", 128, "batch size")
	f.Float64Var(&c.lr, "lr", 2e-3, "peak learning rate (Adam, cosine decay)")
	f.Uint64Var(&c.seed, "seed", 1, "seed for weights, shuffling and dropout")
	f.IntVar(&c.verbose, "verbose", 1, "0 no progress output, 1 progress bars, 2 one line per epoch")
	f.StringVar(&cfg.out, "out", "goqat-demo", "output folder")
	f.StringVar(&q.scheme, "scheme", "8bit", "QAT scheme: 8bit, or wNaM such as w4a8")
	f.BoolVar(&q.lsq, "lsq", false, "learn the step sizes (LSQ)")
	f.IntVar(&q.epochs, "qat-epochs", 1, "QAT fine-tuning epochs")
	f.Float64Var(&q.lr, "qat-lr", 2e-4, "QAT peak learning rate")
	f.IntVar(&q.freezeBNAfter, "freeze-bn-after", -1, "QAT step from which folded BN uses moving statistics (-1: half of the steps)")
	f.IntVar(&q.calibrate, "calibrate", 2048, "training images used to calibrate the ranges before QAT")
	f.StringVar(&cfg.jsonPath, "json", "", "also write the results to this JSON file")
	addDataFlags(f, df)
	return cmd
}
