// Command goqat trains, quantizes, converts, evaluates and benchmarks models
// with the goqat engine. Run `goqat --help` for the subcommands; `goqat demo`
// runs the whole pipeline on the embedded MNIST.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := listenSignals(context.Background())
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		if sig := caughtSignal(); sig != 0 && errors.Is(err, context.Canceled) {
			fmt.Fprintf(os.Stderr, "goqat: interrupted by %s\n", signalName(sig))
			os.Exit(128 + int(sig))
		}
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
