package main

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/internal/plots"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"github.com/spf13/cobra"
)

// evalFlags are goqat eval's optional classification metrics.
type evalFlags struct {
	topK      int    // top-k accuracy (0: none)
	perClass  bool   // print per-class precision/recall/F1 and the matrix
	confusion string // PNG heat map of the confusion matrix
}

// wanted reports whether any extra metric was asked for.
func (e *evalFlags) wanted() bool { return e.topK > 0 || e.perClass || e.confusion != "" }

func newEvalCmd() *cobra.Command {
	var (
		path     string
		df       dataFlags
		batch    int
		jsonPath string
		ef       evalFlags
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a saved model on a test set",
		Long: `eval runs a float, QAT or integer model over a test set and prints its
accuracy (and, for float and QAT models, the loss). An integer model runs in
goqat's int8 interpreter; a QAT model runs in inference mode, where it computes
exactly what its integer model computes. --json FILE also writes the figures
(model, kind, data, images, accuracy and, except for integer models, loss).
SIGINT or SIGTERM stops it within a second (exit code 130 or 143).

--top-k K also prints the top-k accuracy (a label ranks after the classes
with a higher score and those with an equal score and a lower index, so
top-1 is the accuracy). --per-class prints each class's precision, recall,
F1 and support, their macro averages and the confusion matrix (rows true
classes, columns predicted); --confusion-matrix FILE.png draws the matrix
as a heat map with the class names. With --json these figures are written
too (top_k_accuracy, macro_precision, macro_recall, macro_f1, per_class,
confusion_matrix).`,
		Example: `  goqat eval --model float.safetensors --data mnist
  goqat eval --model model.int8.safetensors --dataset fashion --json eval.json
  goqat eval --model qat.safetensors --data fashion --top-k 3 --per-class --confusion-matrix confusion.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("--model is required")
			}
			if batch < 1 {
				return fmt.Errorf("--batch must be at least 1, got %d", batch)
			}
			if ef.topK < 0 {
				return fmt.Errorf("--top-k must not be negative, got %d", ef.topK)
			}
			outs := []pathArg{{"--json", jsonPath}, {"--confusion-matrix", ef.confusion}}
			if err := checkPaths(append([]pathArg{{"--model", path}}, df.inputs()...), outs); err != nil {
				return err
			}
			if err := df.fromModel(path); err != nil {
				return err
			}
			return runStoppable(cmd, func(ctx context.Context) error { return evalModel(ctx, path, &df, batch, jsonPath, ef) })
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&path, "model", "", "model file (.safetensors): float, QAT or integer")
	f.IntVar(&batch, "batch", 256, "batch size")
	f.StringVar(&jsonPath, "json", "", "also write the results to this JSON file")
	f.IntVar(&ef.topK, "top-k", 0, "also print the top-k accuracy, e.g. 5 (0: none)")
	f.BoolVar(&ef.perClass, "per-class", false, "print per-class precision, recall, F1 (and macro averages) and the confusion matrix")
	f.StringVar(&ef.confusion, "confusion-matrix", "", "draw the confusion matrix as a heat map in this PNG file")
	addDataFlags(f, &df)
	return cmd
}

// evalModel is goqat eval: it evaluates the model at path on the test set
// of the data flags, batch images at a time.
func evalModel(ctx context.Context, path string, df *dataFlags, batch int, jsonPath string, ef evalFlags) error {
	integer, err := isInteger(path)
	if err != nil {
		return err
	}
	if integer {
		test, err := df.loadTest()
		if err != nil {
			return err
		}
		if !ef.wanted() {
			return evalInteger(ctx, path, test, batch, jsonPath)
		}
		return evalIntegerMetrics(ctx, path, test, batch, jsonPath, ef)
	}
	m, err := nn.Load(path)
	if err != nil {
		return err
	}
	test, err := df.loadTest()
	if err != nil {
		return err
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Metrics: []string{"accuracy"}}); err != nil {
		return err
	}
	loss, acc, err := m.Evaluate(ctx, test.X, test.Y, nn.EvaluateOptions{BatchSize: batch, Verbose: 1})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Printf("%s on %s test (%d images): loss %.4f, accuracy %.2f%%\n", path, test.Name, test.Len(), loss, 100*acc)
	var cm *classMetrics
	if ef.wanted() {
		scores, err := m.Predict(ctx, test.X, batch)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if cm, err = newClassMetrics(scores.Shape, test, ef.topK); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := cm.add(scores, test.Y); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := cm.report(test, m.Name(), path, ef); err != nil {
			return err
		}
	}
	if jsonPath == "" {
		return nil
	}
	kind := "float"
	if quantize.IsQAT(m) {
		kind = "qat"
	}
	return saveOutput(func() error {
		return writeJSON(jsonPath, cm.json(map[string]any{
			"model": path, "kind": kind, "data": test.Name, "images": test.Len(), "loss": loss, "accuracy": acc,
		}))
	})
}

// evalIntegerMetrics is evalInteger with the extra metrics, in one pass:
// the accuracy is the confusion matrix's, which counts what lite.Accuracy
// counts (the argmax of the dequantized scores is the int8 codes').
func evalIntegerMetrics(ctx context.Context, path string, test *datasets.Dataset, batch int, jsonPath string, ef evalFlags) error {
	im, err := lite.Load(path)
	if err != nil {
		return err
	}
	var cm *classMetrics
	err = lite.ScoresContext(ctx, im, test.X, batch, func(lo int, s *tensor.Tensor) error {
		if cm == nil {
			var err error
			if cm, err = newClassMetrics(s.Shape, test, ef.topK); err != nil {
				return err
			}
		}
		return cm.add(s, test.Y.Batch(lo, lo+s.Shape[0]))
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	acc := cm.cm.Accuracy()
	fmt.Printf("%s (integer) on %s test (%d images): accuracy %.2f%%\n", path, test.Name, test.Len(), 100*acc)
	if err := cm.report(test, im.Name, path, ef); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	return saveOutput(func() error {
		return writeJSON(jsonPath, cm.json(map[string]any{
			"model": path, "kind": "integer", "data": test.Name, "images": test.Len(), "accuracy": acc,
		}))
	})
}

// classMetrics accumulates eval's confusion matrix and top-k count.
type classMetrics struct {
	cm       *nn.ConfusionMatrix
	k, right int
}

// newClassMetrics prepares the metrics for scores of the given shape (N,
// classes), checking that the test labels fit the model's classes.
func newClassMetrics(shape tensor.Shape, test *datasets.Dataset, k int) (*classMetrics, error) {
	if len(shape) != 2 {
		return nil, fmt.Errorf("per-class metrics need a model output of class scores (N, classes), got %s", shape)
	}
	if test.Classes > shape[1] {
		return nil, fmt.Errorf("the test set has %d classes but the model outputs %d scores", test.Classes, shape[1])
	}
	cm, err := nn.NewConfusionMatrix(shape[1])
	if err != nil {
		return nil, err
	}
	return &classMetrics{cm: cm, k: k}, nil
}

// add counts a batch of scores (n, classes) against its labels.
func (c *classMetrics) add(scores, labels *tensor.Tensor) error {
	if err := c.cm.Add(scores, labels); err != nil {
		return err
	}
	if c.k > 0 {
		r, err := nn.TopKCorrect(scores, labels, c.k)
		if err != nil {
			return err
		}
		c.right += r
	}
	return nil
}

// names returns the class names of the test set, padded with indices.
func (c *classMetrics) names(test *datasets.Dataset) []string {
	names := make([]string, c.cm.Classes)
	for i := range names {
		names[i] = fmt.Sprint(i)
		if i < len(test.ClassNames) && test.ClassNames[i] != "" {
			names[i] = test.ClassNames[i]
		}
	}
	return names
}

// report prints the requested metrics and draws the heat map.
func (c *classMetrics) report(test *datasets.Dataset, model, path string, ef evalFlags) error {
	n := c.cm.Total()
	if c.k > 0 {
		fmt.Printf("top-%d accuracy %.2f%%\n", c.k, 100*float64(c.right)/float64(n))
	}
	if ef.perClass {
		fmt.Print(c.cm.Format(c.names(test)))
	}
	if ef.confusion == "" {
		return nil
	}
	title := fmt.Sprintf("%s on %s test (%d images): confusion matrix", model, test.Name, n)
	if err := saveOutput(func() error { return plots.Confusion(ef.confusion, title, c.names(test), c.cm.Counts) }); err != nil {
		return fmt.Errorf("--confusion-matrix %s: %w", ef.confusion, err)
	}
	fmt.Println("wrote", ef.confusion)
	return nil
}

// json adds the metrics to eval's JSON figures (none when c is nil).
func (c *classMetrics) json(v map[string]any) map[string]any {
	if c == nil {
		return v
	}
	if c.k > 0 {
		v["top_k"] = c.k
		v["top_k_accuracy"] = float64(c.right) / float64(c.cm.Total())
	}
	m := c.cm.Macro()
	v["macro_precision"], v["macro_recall"], v["macro_f1"] = m.Precision, m.Recall, m.F1
	per := make([]map[string]any, c.cm.Classes)
	rows := make([][]int, c.cm.Classes)
	for k, pc := range c.cm.PerClass() {
		per[k] = map[string]any{"precision": pc.Precision, "recall": pc.Recall, "f1": pc.F1, "support": pc.Support}
		rows[k] = c.cm.Counts[k*c.cm.Classes : (k+1)*c.cm.Classes]
	}
	v["per_class"], v["confusion_matrix"] = per, rows
	return v
}
