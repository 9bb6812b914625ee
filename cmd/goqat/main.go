// Command goqat trains, quantizes, converts, evaluates and benchmarks models
// with the goqat engine. Run `goqat --help` for the subcommands; `goqat demo`
// runs the whole pipeline on the embedded MNIST.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		fmt.Fprintln(os.Stderr, "goqat: "+msg)
		os.Exit(1)
	}
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "goqat",
		Short: "Quantization-aware training and int8 deployment in pure Go",
		Long: `goqat trains Keras-style models in pure Go, fine-tunes them with
quantization-aware training and runs them as integer-only int8 models.

Start with:  goqat demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newDemoCmd(), newTrainCmd(), newQuantizeCmd(), newEvalCmd(), newInspectCmd(), newBenchCmd(), newConvertCmd(), newExportCmd(), newImportCmd(), newPredictCmd())
	return root
}
