package main

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var (
		path    string
		compare bool
		pngPath string
		df      dataFlags
	)
	cmd := &cobra.Command{
		Use:   "inspect [FILE]",
		Short: "Show a saved model's layers, shapes and parameter counts",
		Example: `  goqat inspect float.safetensors
  goqat inspect --model float.safetensors
  goqat inspect model.int8.safetensors
  goqat inspect --compare qat.safetensors model.int8.safetensors --data mnist --test-limit 1000
  goqat inspect --compare qat.safetensors model.int8.safetensors --data mnist --png layers.png`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if compare {
				if len(args) != 2 {
					return fmt.Errorf("--compare needs two files: the QAT model and its integer model")
				}
				inputs := append([]pathArg{{"the QAT model", args[0]}, {"the integer model", args[1]}}, df.inputs()...)
				if err := checkPaths(inputs, []pathArg{{"--png", pngPath}}); err != nil {
					return err
				}
				return runStoppable(cmd, func(ctx context.Context) error { return compareModels(ctx, args[0], args[1], &df, pngPath) })
			}
			if pngPath != "" {
				return fmt.Errorf("--png needs --compare")
			}
			if len(args) > 1 {
				return fmt.Errorf("one model file at a time (or --compare QAT INT)")
			}
			if len(args) == 1 {
				if path != "" {
					return fmt.Errorf("give the model either as an argument or with --model, not both")
				}
				path = args[0]
			}
			if path == "" {
				return fmt.Errorf("no model given (goqat inspect FILE)")
			}
			return runStoppable(cmd, func(context.Context) error { return inspectModel(path) })
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&path, "model", "", "model file (.safetensors): float, QAT or integer")
	f.BoolVar(&compare, "compare", false, "compare a QAT model with its integer model layer by layer (SQNR, LSB differences)")
	f.StringVar(&pngPath, "png", "", "with --compare: also write the per-layer chart (SQNR, LSB differences) to this PNG file")
	addDataFlags(f, &df)
	return cmd
}

// inspectModel prints the summary of the model at path.
func inspectModel(path string) error {
	integer, err := isInteger(path)
	if err != nil {
		return err
	}
	if integer {
		im, err := lite.Load(path)
		if err != nil {
			return err
		}
		fmt.Print(im.Summary())
		return nil
	}
	m, err := nn.Load(path)
	if err != nil {
		return err
	}
	fmt.Print(m.Summary())
	return nil
}
