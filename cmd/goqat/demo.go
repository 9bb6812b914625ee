package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/plots"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/spf13/cobra"
)

// demoResult is what `goqat demo` measures; its JSON names are the ones
// DESIGN.md section 7 fixes.
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
	Date                   string  `json:"date"`
}

func newDemoCmd() *cobra.Command {
	var (
		c        trainConfig
		q        quantizeConfig
		df       dataFlags
		out      string
		jsonPath string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Train mnist-cnn on the embedded MNIST, fine-tune with QAT, convert to int8, evaluate and time",
		Long: `demo runs goqat's main job end to end with no download: it trains the
built-in model on the embedded MNIST, fine-tunes it with quantization-aware
training, converts it to an integer-only int8 model, evaluates all three,
times float and int8 inference at batch 1 and 64, and writes the models and
results.json to the output folder.`,
		Example: `  goqat demo
  goqat demo --epochs 1 --train-limit 6000 --out /tmp/demo
  goqat demo --data fashion --model mobilenet-tiny`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("output folder: %w", err)
			}
			train, test, err := df.load()
			if err != nil {
				return err
			}
			m, err := buildModel(c.model, train, c.seed)
			if err != nil {
				return err
			}
			fmt.Printf("goqat demo: %s on %s (%d train, %d test images), %d threads\n\n",
				c.model, train.Name, train.Len(), test.Len(), kernels.Threads())
			fmt.Printf("== Float training, %d epochs\n", c.epochs)
			h, err := fitFloat(ctx, m, train, test, c)
			if err != nil {
				return err
			}
			res := demoResult{
				Model: c.model, Dataset: train.Name, TrainImages: train.Len(), TestImages: test.Len(),
				Epochs: c.epochs, Threads: kernels.Threads(), Date: time.Now().UTC().Format(time.DateOnly),
				FloatAccuracy: h.ValAccuracy[len(h.ValAccuracy)-1],
			}
			for _, s := range h.EpochSeconds {
				res.TrainSecondsFloatEpoch += s / float64(len(h.EpochSeconds))
			}
			floatPath := filepath.Join(out, "float.safetensors")
			if err := nn.Save(floatPath, m); err != nil {
				return err
			}
			if st, err := os.Stat(floatPath); err == nil {
				res.FloatModelBytes = st.Size()
			}
			fmt.Printf("\n== Quantization-aware training, %s, %d epoch(s)\n", q.scheme, q.epochs)
			scheme, err := quantize.ParseScheme(q.scheme, q.lsq)
			if err != nil {
				return err
			}
			q.batch, q.seed, q.verbose = c.batch, c.seed, c.verbose
			qr, err := fineTuneQAT(ctx, m, train, test, q, scheme)
			if err != nil {
				return err
			}
			res.Scheme, res.PTQAccuracy, res.QATAccuracy = scheme.String(), qr.ptqAccuracy, qr.qatAccuracy
			if q.epochs > 0 {
				res.TrainSecondsQATEpoch = qr.seconds / float64(q.epochs)
			}
			qatPath := filepath.Join(out, "qat.safetensors")
			if err := nn.Save(qatPath, qr.model); err != nil {
				return err
			}
			if st, err := os.Stat(qatPath); err == nil {
				res.QATModelBytes = st.Size()
			}
			fmt.Println("\n== Converting to an integer-only int8 model")
			im, err := lite.Convert(qr.model)
			if err != nil {
				return err
			}
			int8Path := filepath.Join(out, "model.int8.safetensors")
			if err := lite.Save(int8Path, im); err != nil {
				return err
			}
			if st, err := os.Stat(int8Path); err == nil {
				res.Int8ModelBytes = st.Size()
			}
			if res.Int8Accuracy, res.Int8QATTop1Agreement, err = int8Accuracy(ctx, qr.model, im, test.X, test.Y); err != nil {
				return err
			}
			fmt.Printf("int8 accuracy %.2f%%, same top-1 as the QAT model on %.2f%% of the test images\n",
				100*res.Int8Accuracy, 100*res.Int8QATTop1Agreement)
			curves := []plots.Curve{
				{Label: "float, train", Loss: h.Loss, Accuracy: h.Accuracy},
				{Label: "float, test", Loss: h.ValLoss, Accuracy: h.ValAccuracy, Dashed: true},
			}
			if qr.history != nil {
				curves = append(curves, plots.Curve{Label: "QAT " + q.scheme + ", train", Loss: qr.history.Loss,
					Accuracy: qr.history.Accuracy, FirstEpoch: len(h.Loss) + 1})
			}
			title := fmt.Sprintf("%s on %s: float training, then QAT", c.model, df.name)
			if err := plots.Curves(filepath.Join(out, "curves.png"), title, curves); err != nil {
				return err
			}
			rs, err := lite.Compare(qr.model, im, test.X.Batch(0, min(test.Len(), 1000)))
			if err != nil {
				return err
			}
			title = fmt.Sprintf("%s: QAT vs int8, per layer, %d test images", c.model, min(test.Len(), 1000))
			if err := writeLayersPNG(filepath.Join(out, "layers.png"), title, rs); err != nil {
				return err
			}
			fmt.Println("\n== Timing inference")
			if res.FloatMsPerImageB1, err = timeFloat(ctx, m, 1, time.Second); err != nil {
				return err
			}
			if res.FloatMsPerImageB64, err = timeFloat(ctx, m, 64, time.Second); err != nil {
				return err
			}
			if res.Int8MsPerImageB1, err = timeInt8(ctx, im, 1, time.Second); err != nil {
				return err
			}
			if res.Int8MsPerImageB64, err = timeInt8(ctx, im, 64, time.Second); err != nil {
				return err
			}
			fmt.Println()
			fmt.Printf("%-8s %10s %12s %14s %14s\n", "model", "accuracy", "size", "ms/img b=1", "ms/img b=64")
			fmt.Printf("%-8s %9.2f%% %10.1fKB %14.4f %14.4f\n", "float", 100*res.FloatAccuracy,
				float64(res.FloatModelBytes)/1024, res.FloatMsPerImageB1, res.FloatMsPerImageB64)
			fmt.Printf("%-8s %9.2f%% %10.1fKB %14s %14s\n", "QAT", 100*res.QATAccuracy,
				float64(res.QATModelBytes)/1024, "-", "-")
			fmt.Printf("%-8s %9.2f%% %10.1fKB %14.4f %14.4f\n", "int8", 100*res.Int8Accuracy,
				float64(res.Int8ModelBytes)/1024, res.Int8MsPerImageB1, res.Int8MsPerImageB64)
			fmt.Printf("\nPTQ %s before fine-tuning: %.2f%%. Training: %.1f s per float epoch, %.1f s per QAT epoch. Wrote %s\n",
				q.scheme, 100*res.PTQAccuracy, res.TrainSecondsFloatEpoch, res.TrainSecondsQATEpoch, out)
			if err := writeJSON(filepath.Join(out, "results.json"), res); err != nil {
				return err
			}
			if jsonPath != "" {
				return writeJSON(jsonPath, res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.model, "model", "mnist-cnn", "built-in model (mnist-cnn, mobilenet-tiny)")
	f.IntVar(&c.epochs, "epochs", 2, "float training epochs")
	f.IntVar(&c.batch, "batch", 128, "batch size")
	f.Float64Var(&c.lr, "lr", 2e-3, "peak learning rate (Adam, cosine decay)")
	f.Uint64Var(&c.seed, "seed", 1, "seed for weights, shuffling and dropout")
	f.IntVar(&c.verbose, "verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")
	f.StringVar(&out, "out", "goqat-demo", "output folder")
	f.StringVar(&q.scheme, "scheme", "8bit", "QAT scheme: 8bit, or wNaM such as w4a8")
	f.BoolVar(&q.lsq, "lsq", false, "learn the step sizes (LSQ)")
	f.IntVar(&q.epochs, "qat-epochs", 1, "QAT fine-tuning epochs")
	f.Float64Var(&q.lr, "qat-lr", 2e-4, "QAT peak learning rate")
	f.IntVar(&q.freezeBNAfter, "freeze-bn-after", -1, "QAT step from which folded BN uses moving statistics (-1: half of the steps)")
	f.IntVar(&q.calibrate, "calibrate", 2048, "training images used to calibrate the ranges before QAT")
	f.StringVar(&jsonPath, "json", "", "also write the results to this JSON file")
	addDataFlags(f, &df)
	return cmd
}
