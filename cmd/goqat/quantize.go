package main

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/threads"
	"github.com/spf13/cobra"
)

// quantizeConfig is what a QAT fine-tuning run needs.
type quantizeConfig struct {
	in, out       string
	scheme        string
	lsq           bool
	lstmWeights   string // --lstm-weights: channel or gate ("" is channel)
	epochs, batch int
	lr            float64
	freezeBNAfter int
	calibrate     int
	seed          uint64
	verbose       int
	threads       int
	jsonPath      string
	ckpt          checkpointFlags // checkpoints, resume and clipping (zero: none)
	dist          distFlags       // --distributed (docs/distributed.md)
	kd            distillFlags    // --distill, --teacher (docs/DESIGN.md, QAT: distillation)
}

// validate rejects impossible settings with one clear line.
func (c *quantizeConfig) validate() error {
	switch {
	case c.in == "":
		return fmt.Errorf("--in is required (a float model from goqat train)")
	case c.out == "":
		return fmt.Errorf("--out must name the file to save the QAT model in")
	case c.epochs < 0:
		return fmt.Errorf("--epochs must not be negative, got %d", c.epochs)
	case c.batch < 1:
		return fmt.Errorf("--batch must be at least 1, got %d", c.batch)
	case !(c.lr > 0):
		return fmt.Errorf("--lr must be positive, got %g", c.lr)
	case c.calibrate < 0:
		return fmt.Errorf("--calibrate must not be negative, got %d", c.calibrate)
	}
	if _, err := parseLSTMWeights(c.lstmWeights); err != nil {
		return err
	}
	if err := c.kd.validate(); err != nil {
		return err
	}
	return c.ckpt.validate()
}

// parseLSTMWeights reads --lstm-weights: whether the recurrent layers'
// weights take one scale per gate matrix (quantize.NBit.PerGate).
func parseLSTMWeights(v string) (perGate bool, err error) {
	switch v {
	case "", "channel":
		return false, nil
	case "gate":
		return true, nil
	}
	return false, fmt.Errorf("--lstm-weights %q: want channel (a scale per gate column) or gate (a scale per gate matrix)", v)
}

// lstmWeightsUsage is --lstm-weights' help line.
const lstmWeightsUsage = "LSTM, GRU and SimpleRNN weight scales: channel (one per gate column) or gate (one per gate matrix, as TFLite's integer LSTM needs)"

// newQuantizeCmd is `goqat quantize`: load a float model, quantize it with a
// scheme, calibrate, fine-tune with QAT and save the QAT model.
func newQuantizeCmd() *cobra.Command {
	var (
		c  quantizeConfig
		df dataFlags
	)
	cmd := &cobra.Command{
		Use:   "quantize",
		Short: "Fine-tune a float model with quantization-aware training",
		Long: `quantize loads a float model, inserts fake quantization per the scheme
(BatchNormalization folded into the convolutions), calibrates the ranges on
training images, reports the post-training-quantization (PTQ) accuracy,
fine-tunes with QAT and reports the fake-quant test accuracy, then saves the
QAT model (goqat eval evaluates it as is).

--checkpoint-dir, --checkpoint-every, --resume and --clip-norm work as in
goqat train: checkpoints hold the QAT model's weights and quantizer state
(ranges, moving averages, step sizes), the optimizer state and the position;
rerun the same command with --resume to continue bit-identically.

--distill fine-tunes against the float model's logits (knowledge
distillation: alpha * T^2 KL(teacher || student at temperature T) +
(1 - alpha) * cross-entropy with the labels), --teacher FILE against another
model's with the same input and output shapes; --distill-alpha and
--distill-temperature set alpha and T. Distillation does not take
checkpoints or --distributed yet.

--lstm-weights gate gives the kernels of the LSTM, GRU and SimpleRNN layers
one scale per gate matrix instead of one per gate column (channel, the
default): the granularity TFLite's integer LSTM takes, so that
goqat export --format tflite accepts the model (docs/lstm.md).`,
		Example: `  goqat quantize --in float.safetensors --scheme 8bit --epochs 1 --out qat.safetensors
  goqat quantize --in float.safetensors --scheme w4a8 --lsq --data fashion --epochs 2
  goqat quantize --in float.safetensors --scheme w2a8 --distill --distill-temperature 4 --epochs 2
  goqat quantize --in lstm.safetensors --lstm-weights gate --epochs 1 --out lstm.qat.safetensors
  goqat quantize --in float.safetensors --data ./photos --input 32x32 --validation-split 0.1 --augment crop:4,flip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			scheme, err := quantize.ParseScheme(c.scheme, c.lsq)
			if err != nil {
				return err
			}
			scheme.PerGate, _ = parseLSTMWeights(c.lstmWeights) // checked by validate
			if c.verbose, err = verbosity(c.verbose); err != nil {
				return err
			}
			inputs := append(append(append([]pathArg{{"--in", c.in}}, df.inputs()...), c.ckpt.input()...), c.kd.input()...)
			if err := checkPaths(inputs, []pathArg{{"--out", c.out}, {"--json", c.jsonPath}}); err != nil {
				return err
			}
			if c.threads > 0 {
				threads.Set(c.threads)
			}
			stop, err := c.dist.start()
			if err != nil {
				return err
			}
			defer stop()
			fm, err := nn.Load(c.in)
			if err != nil {
				return err
			}
			if err := c.kd.load(fm); err != nil {
				return err
			}
			if err := df.fromModel(c.in); err != nil {
				return err
			}
			train, test, err := df.loadTrain()
			if err != nil {
				return err
			}
			loader, err := df.batches(train, c.seed)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			floatAcc, err := evalAccuracy(ctx, fm, test)
			if err != nil {
				return exitOnSignal(caughtSignal(), err, checkpointFlags{})
			}
			r, ptqAcc, err := fineTune(ctx, fm, train, test, loader, c, scheme)
			qatAcc := ptqAcc // no fine-tuning: the PTQ model
			if err == nil && c.epochs > 0 {
				qatAcc, err = evalAccuracy(ctx, r.Model, test)
			}
			if err := exitOnSignal(caughtSignal(), err, c.ckpt); err != nil {
				return err
			}
			loaderNote(loader)
			qm, secs := r.Model, r.TrainSeconds
			fmt.Printf("QAT %s fake-quant test accuracy %.2f%% (float %.2f%%, PTQ %.2f%%) after %d epochs (%.1fs)\n",
				scheme, 100*qatAcc, 100*floatAcc, 100*ptqAcc, c.epochs, secs)
			if !c.dist.writer() {
				return nil
			}
			if err := saveWith("--out", c.out, func(p string) error { return saveModelFrom(p, qm, c.in) }); err != nil {
				return err
			}
			fmt.Printf("Saved %s\n", c.out)
			if c.jsonPath != "" {
				res := map[string]any{
					"model": c.in, "data": test.Name, "scheme": scheme.String(), "epochs": c.epochs,
					"float_accuracy": floatAcc, "ptq_accuracy": ptqAcc, "qat_accuracy": qatAcc,
					"train_seconds_qat": secs, "out": c.out,
				}
				c.kd.record(res, c.in)
				return writeJSON(c.jsonPath, res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&c.in, "in", "", "float model (.safetensors) to quantize")
	f.StringVar(&c.out, "out", "qat.safetensors", "where to save the QAT model")
	f.StringVar(&c.scheme, "scheme", "8bit", "scheme: 8bit, or wNaM such as w4a8, w2a8, w4a4")
	f.BoolVar(&c.lsq, "lsq", false, "learn the step sizes (LSQ) instead of tracking ranges")
	f.StringVar(&c.lstmWeights, "lstm-weights", "channel", lstmWeightsUsage)
	f.IntVar(&c.epochs, "epochs", 1, "QAT fine-tuning epochs (0: PTQ only)")
	f.IntVar(&c.batch, "batch", 128, "batch size")
	f.Float64Var(&c.lr, "lr", 2e-4, "peak learning rate (Adam, cosine decay)")
	f.IntVar(&c.freezeBNAfter, "freeze-bn-after", -1, "optimizer step from which folded BN uses its moving statistics (-1: half of the steps)")
	f.IntVar(&c.calibrate, "calibrate", 2048, "training images used to calibrate the ranges before fine-tuning (0: none)")
	f.Uint64Var(&c.seed, "seed", 1, "seed for shuffling")
	f.IntVar(&c.verbose, "verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")
	f.IntVar(&c.threads, "threads", 0, "compute threads (0: all cores)")
	f.StringVar(&c.jsonPath, "json", "", "also write the results to this JSON file")
	addDataFlags(f, &df)
	addTrainDataFlags(f, &df)
	addCheckpointFlags(f, &c.ckpt)
	addDistributedFlags(f, &c.dist)
	addDistillFlags(f, &c.kd)
	return cmd
}
