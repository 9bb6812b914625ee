package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/internal/fileio"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
	"github.com/spf13/cobra"
)

// predictConfig is what `goqat predict` needs.
type predictConfig struct {
	model       string
	csv         string
	labelColumn string
	classNames  string
	top         int
	fit         string
	jsonOut     bool
	batch       int
}

// predictor runs a float, QAT or integer model on a batch and returns its
// outputs (N,K).
type predictor struct {
	in      tensor.Shape // per-example input shape
	classes int          // K
	run     func(ctx context.Context, x *tensor.Tensor) (*tensor.Tensor, error)
}

// loadPredictor loads the model at path: an integer model runs in the int8
// interpreter, a float or QAT one (in inference mode) in nn.
func loadPredictor(path string) (*predictor, error) {
	integer, err := isInteger(path)
	if err != nil {
		return nil, err
	}
	if integer {
		im, err := lite.Load(path)
		if err != nil {
			return nil, err
		}
		if len(im.Inputs) != 1 || len(im.Outputs) != 1 {
			return nil, fmt.Errorf("%s: %d inputs and %d outputs: predict wants one of each", path, len(im.Inputs), len(im.Outputs))
		}
		it, err := lite.NewInterpreter(im)
		if err != nil {
			return nil, err
		}
		out := im.Tensors[im.Outputs[0]].Shape
		if len(out) != 1 {
			return nil, fmt.Errorf("%s: output of shape %v: predict wants class scores (K)", path, out)
		}
		return &predictor{in: im.Tensors[im.Inputs[0]].Shape.Clone(), classes: out[0], run: func(_ context.Context, x *tensor.Tensor) (*tensor.Tensor, error) {
			if err := it.SetInput(0, x); err != nil {
				return nil, err
			}
			if err := it.Invoke(); err != nil {
				return nil, err
			}
			return it.Output(0).Clone(), nil
		}}, nil
	}
	m, err := nn.Load(path)
	if err != nil {
		return nil, err
	}
	if len(m.Inputs()) != 1 || len(m.Outputs()) != 1 {
		return nil, fmt.Errorf("%s: %d inputs and %d outputs: predict wants one of each", path, len(m.Inputs()), len(m.Outputs()))
	}
	if out := m.Outputs()[0]; len(out) != 1 {
		return nil, fmt.Errorf("%s: output of shape %v: predict wants class scores (K)", path, out)
	}
	return &predictor{in: m.Inputs()[0].Clone(), classes: m.Outputs()[0][0], run: func(ctx context.Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return m.Predict(ctx, x, x.Shape[0])
	}}, nil
}

// prediction is one example's top classes.
type prediction struct {
	Input   string       `json:"input"`
	Label   string       `json:"label,omitempty"`
	Classes []classScore `json:"top"`
}

// classScore is one class and its probability.
type classScore struct {
	Index       int     `json:"index"`
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// maxPredictBatch bounds --batch: the inputs decoded and run at once.
const maxPredictBatch = 256

func newPredictCmd() *cobra.Command {
	var c predictConfig
	cmd := &cobra.Command{
		Use:   "predict --model FILE IMAGE... | --csv FILE",
		Short: "Classify images or table rows with a saved model",
		Long: `predict runs a float, QAT or integer model on image files (PNG, JPEG, GIF,
BMP, TIFF, WebP), each decoded, converted to the model's channels in [0,1]
and resized to its input as --fit says, or on the rows of a CSV table
(--csv; with --label-column that column is left out and shown), and prints
the top-k classes with their probabilities: the softmax of the model's
outputs, or the outputs themselves if they already are probabilities.

goqat train records the training data's class names, image size, fit and
normalisation in the model file (goqat quantize and convert keep them);
predict applies them. --class-names (a comma-separated list, or @FILE with
one name per line) overrides the names; without either the classes are
numbered. --json prints the results as JSON instead.`,
		Example: `  goqat predict --model model.int8.safetensors cat.jpg dog.png
  goqat predict --model float.safetensors --class-names @classes.txt --top 3 cat.jpg
  goqat predict --model mlp.safetensors --csv new-rows.csv --label-column kind --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(cmd.Context(), cmd.OutOrStdout(), c, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.model, "model", "", "model file (.safetensors): float, QAT or integer")
	f.StringVar(&c.csv, "csv", "", "classify the rows of this CSV table (header row, numeric features) instead of images")
	f.StringVar(&c.labelColumn, "label-column", "", "with --csv: a column to leave out of the features and show as the label (name or index from 0)")
	f.StringVar(&c.classNames, "class-names", "", "class names: a comma-separated list, or @FILE with one per line (default: numbers)")
	f.IntVar(&c.top, "top", 5, "classes to print per input")
	f.StringVar(&c.fit, "fit", "", "how images reach the model's input size: crop, pad or stretch (default: as in training, recorded in the model file, else crop)")
	f.BoolVar(&c.jsonOut, "json", false, "print the results as JSON")
	f.IntVar(&c.batch, "batch", 64, "inputs per batch")
	return cmd
}

// runPredict reads the inputs, runs the model batch by batch and prints
// the predictions to w.
func runPredict(ctx context.Context, w io.Writer, c predictConfig, images []string) error {
	if c.model == "" {
		return fmt.Errorf("--model is required")
	}
	if (c.csv == "") == (len(images) == 0) {
		return fmt.Errorf("give image files or --csv FILE (one of them)")
	}
	if c.top < 1 {
		return fmt.Errorf("--top must be at least 1, got %d", c.top)
	}
	if c.batch < 1 || c.batch > maxPredictBatch {
		return fmt.Errorf("--batch must be from 1 to %d, got %d", maxPredictBatch, c.batch)
	}
	names, err := parseClassNames(c.classNames)
	if err != nil {
		return err
	}
	p, err := loadPredictor(c.model)
	if err != nil {
		return err
	}
	pre, err := datasets.ReadPreprocessing(c.model)
	if err != nil {
		return err
	}
	if pre != nil && !tensor.Shape(pre.Input).Equal(p.in) {
		pre = nil // recorded for another input: not this model's
	}
	fitName := c.fit
	if fitName == "" && pre != nil {
		fitName = string(pre.Fit)
	}
	if fitName == "" {
		fitName = string(datasets.FitCrop)
	}
	fit, err := datasets.ParseFit(fitName)
	if err != nil {
		return fmt.Errorf("--fit: %w", err)
	}
	if names == nil && pre != nil {
		names = pre.ClassNames
	}
	if names != nil && len(names) != p.classes {
		return fmt.Errorf("--class-names names %d classes, the model has %d", len(names), p.classes)
	}
	var preds []prediction
	if c.csv != "" {
		if len(p.in) != 1 {
			return fmt.Errorf("%s takes images %v, not table rows: give image files", c.model, p.in)
		}
		x, labels, err := datasets.CSVFeatures(c.csv, c.labelColumn)
		if err != nil {
			return err
		}
		if x.Shape[1] != p.in[0] {
			return fmt.Errorf("%s: rows of %d features, the model takes %d", c.csv, x.Shape[1], p.in[0])
		}
		if pre != nil {
			pre.Normalize(x.Data)
		}
		for lo := 0; lo < x.Shape[0]; lo += c.batch {
			hi := min(lo+c.batch, x.Shape[0])
			out, err := p.run(ctx, x.Batch(lo, hi))
			if err != nil {
				return err
			}
			for i := lo; i < hi; i++ {
				pr := prediction{Input: c.csv + ":" + strconv.Itoa(i+2), Classes: topK(out, i-lo, c.top, names)}
				if labels != nil {
					pr.Label = labels[i]
				}
				preds = append(preds, pr)
			}
		}
	} else {
		if len(p.in) != 3 || (p.in[2] != 1 && p.in[2] != 3) {
			return fmt.Errorf("%s takes inputs %v, not images (H,W,1) or (H,W,3): give --csv for feature vectors", c.model, p.in)
		}
		h, wd, ch := p.in[0], p.in[1], p.in[2]
		for lo := 0; lo < len(images); lo += c.batch {
			hi := min(lo+c.batch, len(images))
			x := tensor.New(hi-lo, h, wd, ch)
			for i, path := range images[lo:hi] {
				if err := readImageFile(path, h, wd, ch, fit, x.Data[i*h*wd*ch:(i+1)*h*wd*ch]); err != nil {
					return err
				}
			}
			if pre != nil {
				pre.Normalize(x.Data)
			}
			out, err := p.run(ctx, x)
			if err != nil {
				return err
			}
			for i, path := range images[lo:hi] {
				preds = append(preds, prediction{Input: path, Classes: topK(out, i, c.top, names)})
			}
		}
	}
	if c.jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(preds)
	}
	for _, pr := range preds {
		var parts []string
		for _, cs := range pr.Classes {
			parts = append(parts, fmt.Sprintf("%s %.4f", cs.Name, cs.Probability))
		}
		label := ""
		if pr.Label != "" {
			label = " (label " + pr.Label + ")"
		}
		fmt.Fprintf(w, "%s%s: %s\n", pr.Input, label, strings.Join(parts, ", "))
	}
	return nil
}

// readImageFile decodes the image file at path into dst, (h,w,c).
func readImageFile(path string, h, w, c int, fit datasets.Fit, dst []float32) error {
	f, size, err := fileio.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	const maxBytes = 256 << 20
	if size > maxBytes {
		return fmt.Errorf("%s: %d bytes, more than the %d-byte limit of an image file", path, size, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return datasets.DecodeImage(path, data, h, w, c, fit, 0, dst)
}

// parseClassNames reads --class-names: "a,b,c" or "@FILE" (one per line).
func parseClassNames(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var parts []string
	if strings.HasPrefix(s, "@") {
		data, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, fmt.Errorf("--class-names: %w", err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				parts = append(parts, l)
			}
		}
	} else {
		for _, p := range strings.Split(s, ",") {
			parts = append(parts, strings.TrimSpace(p))
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("--class-names %q names no classes", s)
	}
	return parts, nil
}

// topK returns the k most probable classes of row i of out (N,K): the
// softmax of the row, or the row itself if it already is a probability
// distribution (non-negative, summing to 1).
func topK(out *tensor.Tensor, i, k int, names []string) []classScore {
	nc := out.Shape[len(out.Shape)-1]
	row := out.Data[i*nc : (i+1)*nc]
	probs := make([]float64, nc)
	sum, isProb := 0.0, true
	for j, v := range row {
		probs[j] = float64(v)
		sum += float64(v)
		isProb = isProb && v >= 0 && v <= 1
	}
	if !isProb || math.Abs(sum-1) > 1e-3 {
		top := math.Inf(-1)
		for _, v := range row {
			top = math.Max(top, float64(v))
		}
		sum = 0
		for j, v := range row {
			probs[j] = math.Exp(float64(v) - top)
			sum += probs[j]
		}
		for j := range probs {
			probs[j] /= sum
		}
	}
	idx := make([]int, nc)
	for j := range idx {
		idx[j] = j
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	var res []classScore
	for _, j := range idx[:min(k, nc)] {
		name := strconv.Itoa(j)
		if j < len(names) {
			name = names[j]
		}
		res = append(res, classScore{Index: j, Name: name, Probability: probs[j]})
	}
	return res
}
