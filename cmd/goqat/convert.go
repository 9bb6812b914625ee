package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/internal/plots"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"github.com/spf13/cobra"
)

func newConvertCmd() *cobra.Command {
	var (
		in, out, calibration, scheme, lstmWeights string
		rounding                                  string
		fullInteger, ptq                          bool
		samples                                   int
		df                                        dataFlags
	)
	cmd := &cobra.Command{
		Use:   "convert",
		Short: "Convert a QAT model, or a float model by post-training quantization, into an integer-only model",
		Long: `convert writes the integer-only model of a QAT model (from goqat quantize),
or with --ptq of a float model by post-training quantization: the model is
quantized (BN folded, per-channel weights, --scheme) and calibrated on the
first --calibration-samples training images of --data, or on random inputs in
[0, 1) with --calibration random (for timing only: the ranges mean nothing).
Either way the integer model has the same format. --rounding tflite makes
goqat run the integer model as TensorFlow Lite's runtime runs its .tflite
export (goqat export --format tflite), to the bit; tflite-reference as
TFLite's reference kernels (TFLite Micro) do (docs/tflite.md).`,
		Example: `  goqat convert --in qat.safetensors --out model.int8.safetensors
  goqat convert --in qat.safetensors --out model.int8.safetensors --full-integer
  goqat convert --in qat.safetensors --out model.int8.safetensors --rounding tflite
  goqat convert --ptq --in float.safetensors --out model.int8.safetensors --data mnist
  goqat convert --ptq --in imported.safetensors --out model.int8.safetensors --calibration random`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return fmt.Errorf("--in and --out are required")
			}
			r, err := lite.ParseRounding(rounding)
			if err != nil {
				return fmt.Errorf("--rounding: %w", err)
			}
			inputs := []pathArg{{"--in", in}}
			if ptq && calibration == "data" {
				inputs = append(inputs, df.inputs()...)
			}
			if err := checkPaths(inputs, []pathArg{{"--out", out}}); err != nil {
				return err
			}
			return runStoppable(cmd, func(ctx context.Context) error {
				return convertModel(ctx, in, out, ptq, fullInteger, r, calibration, scheme, lstmWeights, samples, &df)
			})
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&in, "in", "", "QAT model file (.safetensors, from goqat quantize), or a float model with --ptq")
	f.StringVar(&out, "out", "", "integer model file to write")
	f.BoolVar(&fullInteger, "full-integer", false, "int8 input and output instead of float with quantize/dequantize at the edges")
	f.StringVar(&rounding, "rounding", "goqat", "requantization arithmetic the integer model runs with: goqat (the QAT model's), tflite (TensorFlow Lite's runtime) or tflite-reference (TFLite's reference kernels)")
	f.BoolVar(&ptq, "ptq", false, "post-training quantization of a float model (no fine-tuning)")
	f.StringVar(&calibration, "calibration", "data", "PTQ calibration inputs: data (the --data training images) or random")
	f.IntVar(&samples, "calibration-samples", 512, "PTQ: how many inputs to calibrate on")
	f.StringVar(&scheme, "scheme", "8bit", "PTQ scheme: 8bit, or wNaM (e.g. w4a8)")
	f.StringVar(&lstmWeights, "lstm-weights", "channel", "PTQ: "+lstmWeightsUsage)
	addDataFlags(f, &df)
	return cmd
}

// convertModel is goqat convert: it writes the integer model of the QAT
// model at in (or, with ptq, of the float model at in after post-training
// quantization) to out.
func convertModel(ctx context.Context, in, out string, ptq, fullInteger bool, rounding lite.Rounding, calibration, scheme, lstmWeights string, samples int, df *dataFlags) error {
	m, err := nn.Load(in)
	if err != nil {
		return err
	}
	qat := m
	switch {
	case ptq && quantize.IsQAT(m):
		return fmt.Errorf("--ptq quantizes a float model; %s is already a QAT model (convert it without --ptq)", in)
	case !ptq && !quantize.IsQAT(m):
		return fmt.Errorf("%s is a float model: convert it with --ptq (post-training quantization), or fine-tune it with goqat quantize first", in)
	case ptq:
		if err := df.fromModel(in); err != nil {
			return err
		}
		if qat, err = ptqModel(ctx, m, calibration, scheme, lstmWeights, samples, df); err != nil {
			return err
		}
	}
	opts := []convert.Option{convert.Rounding(rounding)}
	if fullInteger {
		opts = append(opts, convert.FullInteger())
	}
	im, err := convert.Convert(qat, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := saveOutput(func() error { return lite.Save(out, im) }); err != nil {
		return err
	}
	if err := datasets.CopyPreprocessing(in, out); err != nil {
		return err
	}
	si, err := os.Stat(in)
	if err != nil {
		return err
	}
	so, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("%s (%d bytes) -> %s (%d bytes, %.3fx)\n", in, si.Size(), out, so.Size(), float64(so.Size())/float64(si.Size()))
	if im.Rounding != lite.RoundingGoqat {
		fmt.Printf("  rounding %s\n", im.Rounding)
	}
	for _, l := range im.LayerBits() {
		fmt.Println("  " + l)
	}
	return nil
}

// ptqModel quantizes the float model m and calibrates it (convert --ptq).
func ptqModel(ctx context.Context, m *nn.Model, calibration, scheme, lstmWeights string, samples int, df *dataFlags) (*nn.Model, error) {
	if samples < 1 || samples > 1<<20 {
		return nil, fmt.Errorf("--calibration-samples %d: want 1 to %d", samples, 1<<20)
	}
	sc, err := quantize.ParseScheme(scheme, false)
	if err != nil {
		return nil, err
	}
	if sc.PerGate, err = parseLSTMWeights(lstmWeights); err != nil {
		return nil, err
	}
	if len(m.Inputs()) != 1 {
		return nil, fmt.Errorf("--ptq: the model has %d inputs; PTQ calibrates single-input models", len(m.Inputs()))
	}
	shape := m.Inputs()[0]
	var x *tensor.Tensor
	switch calibration {
	case "random":
		n := min(samples, max(1, (1<<26)/max(1, shape.Size()))) // at most 256 MB of inputs
		x = tensor.New(append([]int{n}, shape...)...)
		r := rand.New(rand.NewPCG(3, 3))
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
	case "data":
		train, _, err := df.load()
		if err != nil {
			return nil, err
		}
		if !train.X.Shape[1:].Equal(shape) {
			return nil, fmt.Errorf("--ptq: the model takes %v inputs, %s has %v images (or calibrate with --calibration random)", shape, train.Name, train.X.Shape[1:])
		}
		x = train.X.Batch(0, min(samples, train.Len()))
	default:
		return nil, fmt.Errorf("--calibration %q: want data or random", calibration)
	}
	fmt.Printf("PTQ %s: calibrating on %d %s inputs\n", sc, x.Shape[0], calibration)
	return quantize.PTQ(ctx, m, x, 32, quantize.WithScheme(sc))
}

// isInteger reports whether the file at path is an integer model.
func isInteger(path string) (bool, error) { return lite.IsFile(path) }

// evalInteger evaluates an integer model on a test set with the
// interpreter and prints (and optionally writes) its accuracy.
func evalInteger(ctx context.Context, path string, test *datasets.Dataset, batch int, jsonPath string) error {
	im, err := lite.Load(path)
	if err != nil {
		return err
	}
	acc, err := lite.AccuracyContext(ctx, im, test.X, test.Y, batch)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Printf("%s (integer) on %s test (%d images): accuracy %.2f%%\n", path, test.Name, test.Len(), 100*acc)
	if jsonPath == "" {
		return nil
	}
	return saveOutput(func() error {
		return writeJSON(jsonPath, map[string]any{
			"model": path, "kind": "integer", "data": test.Name, "images": test.Len(), "accuracy": acc,
		})
	})
}

// compareModels prints the per-layer debugger table of a QAT model
// against its integer model.
func compareModels(ctx context.Context, qatPath, intPath string, df *dataFlags, pngPath string) error {
	qat, err := nn.Load(qatPath)
	if err != nil {
		return err
	}
	im, err := lite.Load(intPath)
	if err != nil {
		return err
	}
	test, err := df.loadTest()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rs, err := convert.Compare(qat, im, test.X)
	if err != nil {
		return fmt.Errorf("%s vs %s: %w", qatPath, intPath, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Printf("%s vs %s on %d %s test images:\n", qatPath, intPath, test.Len(), test.Name)
	fmt.Print(convert.FormatReports(rs))
	if pngPath == "" {
		return nil
	}
	title := fmt.Sprintf("%s: QAT vs integer model, %d %s test images", qat.Name(), test.Len(), test.Name)
	if err := saveOutput(func() error { return writeLayersPNG(pngPath, title, rs) }); err != nil {
		return err
	}
	fmt.Println("wrote", pngPath)
	return nil
}

// writeLayersPNG draws the debugger's per-layer chart.
func writeLayersPNG(path, title string, rs []convert.LayerReport) error {
	rows := make([]plots.LayerRow, len(rs))
	for i, r := range rs {
		rows[i] = plots.LayerRow{Name: r.Layer, SQNR: r.SQNR, Same: r.Same, Off1: r.Off1, OffMore: r.OffMore}
	}
	return plots.Layers(path, title, rows)
}
