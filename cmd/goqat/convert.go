package main

import (
	"fmt"
	"os"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/internal/plots"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/spf13/cobra"
)

func newConvertCmd() *cobra.Command {
	var (
		in, out     string
		fullInteger bool
	)
	cmd := &cobra.Command{
		Use:   "convert",
		Short: "Convert a QAT model into an integer-only model",
		Example: `  goqat convert --in qat.safetensors --out model.int8.safetensors
  goqat convert --in qat.safetensors --out model.int8.safetensors --full-integer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return fmt.Errorf("--in and --out are required")
			}
			qat, err := nn.Load(in)
			if err != nil {
				return err
			}
			var opts []convert.Option
			if fullInteger {
				opts = append(opts, convert.FullInteger())
			}
			im, err := convert.Convert(qat, opts...)
			if err != nil {
				return err
			}
			if err := lite.Save(out, im); err != nil {
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
			for _, l := range im.LayerBits() {
				fmt.Println("  " + l)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "QAT model file (.safetensors, from goqat quantize)")
	f.StringVar(&out, "out", "", "integer model file to write")
	f.BoolVar(&fullInteger, "full-integer", false, "int8 input and output instead of float with quantize/dequantize at the edges")
	return cmd
}

// isInteger reports whether the file at path is an integer model.
func isInteger(path string) (bool, error) { return lite.IsFile(path) }

// evalInteger evaluates an integer model on a test set with the
// interpreter and prints (and optionally writes) its accuracy.
func evalInteger(path string, test *datasets.Dataset, batch int, jsonPath string) error {
	im, err := lite.Load(path)
	if err != nil {
		return err
	}
	acc, err := lite.Accuracy(im, test.X, test.Y, batch)
	if err != nil {
		return err
	}
	fmt.Printf("%s (integer) on %s test (%d images): accuracy %.2f%%\n", path, test.Name, test.Len(), 100*acc)
	if jsonPath != "" {
		return writeJSON(jsonPath, map[string]any{
			"model": path, "kind": "integer", "data": test.Name, "images": test.Len(), "accuracy": acc,
		})
	}
	return nil
}

// compareModels prints the per-layer debugger table of a QAT model
// against its integer model.
func compareModels(qatPath, intPath string, df *dataFlags, pngPath string) error {
	qat, err := nn.Load(qatPath)
	if err != nil {
		return err
	}
	im, err := lite.Load(intPath)
	if err != nil {
		return err
	}
	_, test, err := df.load()
	if err != nil {
		return err
	}
	rs, err := convert.Compare(qat, im, test.X)
	if err != nil {
		return err
	}
	fmt.Printf("%s vs %s on %d %s test images:\n", qatPath, intPath, test.Len(), test.Name)
	fmt.Print(convert.FormatReports(rs))
	if pngPath == "" {
		return nil
	}
	title := fmt.Sprintf("%s: QAT vs integer model, %d %s test images", qat.Name(), test.Len(), test.Name)
	if err := writeLayersPNG(pngPath, title, rs); err != nil {
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
