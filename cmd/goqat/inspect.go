package main

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "inspect [FILE]",
		Short: "Show a saved model's layers, shapes and parameter counts",
		Example: `  goqat inspect float.safetensors
  goqat inspect --model float.safetensors`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if path != "" {
					return fmt.Errorf("give the model either as an argument or with --model, not both")
				}
				path = args[0]
			}
			if path == "" {
				return fmt.Errorf("no model given (goqat inspect FILE)")
			}
			m, err := nn.Load(path)
			if err != nil {
				return err
			}
			fmt.Print(m.Summary())
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "model", "", "model file (.safetensors)")
	return cmd
}
