package main

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/spf13/cobra"
)

func newEvalCmd() *cobra.Command {
	var (
		path     string
		df       dataFlags
		batch    int
		jsonPath string
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a saved model on a test set",
		Long: `eval runs a float, QAT or integer model over a test set and prints its
accuracy (and, for float and QAT models, the loss). An integer model runs in
goqat's int8 interpreter; a QAT model runs in inference mode, where it computes
exactly what its integer model computes. --json FILE also writes the figures
(model, kind, data, images, accuracy and, except for integer models, loss).
SIGINT or SIGTERM stops it within a second (exit code 130 or 143).`,
		Example: `  goqat eval --model float.safetensors --data mnist
  goqat eval --model model.int8.safetensors --dataset fashion --json eval.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("--model is required")
			}
			if batch < 1 {
				return fmt.Errorf("--batch must be at least 1, got %d", batch)
			}
			if err := checkPaths(append([]pathArg{{"--model", path}}, df.inputs()...), []pathArg{{"--json", jsonPath}}); err != nil {
				return err
			}
			if err := df.fromModel(path); err != nil {
				return err
			}
			return runStoppable(cmd, func(ctx context.Context) error { return evalModel(ctx, path, &df, batch, jsonPath) })
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&path, "model", "", "model file (.safetensors): float, QAT or integer")
	f.IntVar(&batch, "batch", 256, "batch size")
	f.StringVar(&jsonPath, "json", "", "also write the results to this JSON file")
	addDataFlags(f, &df)
	return cmd
}

// evalModel is goqat eval: it evaluates the model at path on the test set
// of the data flags, batch images at a time.
func evalModel(ctx context.Context, path string, df *dataFlags, batch int, jsonPath string) error {
	integer, err := isInteger(path)
	if err != nil {
		return err
	}
	if integer {
		_, test, err := df.load()
		if err != nil {
			return err
		}
		return evalInteger(ctx, path, test, batch, jsonPath)
	}
	m, err := nn.Load(path)
	if err != nil {
		return err
	}
	_, test, err := df.load()
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
	if jsonPath == "" {
		return nil
	}
	kind := "float"
	if quantize.IsQAT(m) {
		kind = "qat"
	}
	return saveOutput(func() error {
		return writeJSON(jsonPath, map[string]any{
			"model": path, "kind": kind, "data": test.Name, "images": test.Len(), "loss": loss, "accuracy": acc,
		})
	})
}
