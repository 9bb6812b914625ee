package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/format/tflite"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/spf13/cobra"
)

func newImportCmd() *cobra.Command {
	var in, out, rounding string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import a float ONNX model or a TensorFlow Lite model as a goqat model",
		Long: `import reads a float ONNX model and saves it as a goqat model with its
weights, ready for goqat quantize, eval and export. NCHW images become goqat's
NHWC: an input (N, C, H, W) becomes a goqat input (N, H, W, C). Supported ONNX
ops (docs/onnx.md lists their limits):
` + wrapWords(strings.Join(onnx.SupportedOps, ", "), 80) + `

A TensorFlow Lite model (.tflite, told by its content) of int8 operators is
verified and saved as a goqat integer model, one of FLOAT32 operators as a
float model (docs/tflite.md lists the operators); every model-reading
command also reads .tflite files directly. The integer model runs in
goqat's rounding, on the fast kernels, within one step of TFLite's codes
op by op; --rounding tflite makes it compute TFLite's runtime's codes
exactly, on pure-Go kernels 15 to 80 times slower (docs/tflite.md).`,
		Example: `  goqat import --in model.onnx --out model.safetensors
  goqat import --in model.tflite --out model.int8.safetensors
  goqat import --in model.tflite --out model.int8.safetensors --rounding tflite`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return fmt.Errorf("--in and --out are required")
			}
			if err := checkPaths([]pathArg{{"--in", in}}, []pathArg{{"--out", out}}); err != nil {
				return err
			}
			r, err := lite.ParseRounding(rounding)
			if err != nil {
				return fmt.Errorf("--rounding: %w", err)
			}
			if ok, err := tflite.IsFile(in); err != nil {
				return err
			} else if ok {
				return runStoppable(cmd, func(ctx context.Context) error { return importTFLite(ctx, in, out, r) })
			}
			if cmd.Flags().Changed("rounding") {
				return fmt.Errorf("--rounding applies to a .tflite integer model; %s is an ONNX file", in)
			}
			return runStoppable(cmd, func(ctx context.Context) error {
				m, err := onnx.ImportFile(in)
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := saveOutput(func() error { return nn.Save(out, m) }); err != nil {
					return err
				}
				params := 0
				for _, p := range m.Params() {
					params += p.Value.Size()
				}
				fmt.Printf("%s -> %s: model %q, %d layers, %d parameters, input %v, output %v\n",
					in, out, m.Name(), len(m.Layers()), params, m.Inputs()[0], m.Outputs()[0])
				return nil
			})
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&in, "in", "", "ONNX file (float model) or .tflite file (int8 or float model) to import")
	f.StringVar(&out, "out", "", "goqat model file (.safetensors) to write")
	f.StringVar(&rounding, "rounding", "goqat", "requantization arithmetic of an imported .tflite integer model: goqat (fast), tflite (TensorFlow Lite's runtime, exactly) or tflite-reference")
	return cmd
}

// importTFLite reads a .tflite model and saves it as an integer model in
// rounding r, or a float one as a float model.
func importTFLite(ctx context.Context, in, out string, r lite.Rounding) error {
	im, err := tflite.ReadFile(in)
	if errors.Is(err, tflite.ErrFloatModel) {
		m, err := tflite.ReadFloatFile(in)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := saveOutput(func() error { return nn.Save(out, m) }); err != nil {
			return err
		}
		fmt.Printf("%s -> %s: float model %q, %d layers, input %v, output %v\n", in, out, m.Name(), len(m.Layers()), m.Inputs()[0], m.Outputs()[0])
		return nil
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	im.Rounding = r
	if err := saveOutput(func() error { return lite.Save(out, im) }); err != nil {
		return err
	}
	fmt.Printf("%s -> %s: integer model %q, %d ops, %d inputs, %d outputs, rounding %s\n", in, out, im.Name, len(im.Ops), len(im.Inputs), len(im.Outputs), im.Rounding)
	return nil
}

// wrapWords breaks text into lines of at most width characters at spaces.
func wrapWords(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		if n > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
