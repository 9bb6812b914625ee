package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/format/tflite"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/spf13/cobra"
)

func newExportCmd() *cobra.Command {
	var (
		format, in, out string
		fullInteger     bool
		uint8Acts       bool
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a float, QAT or integer model to ONNX or TensorFlow Lite",
		Long: `export writes a goqat model as an ONNX file (opset 13) that ONNX Runtime runs:
a float model as a float graph, an integer model (from goqat convert) as a QDQ
graph (int8 weights, QuantizeLinear/DequantizeLinear around every activation).
A QAT model is first converted to an integer model, as goqat convert does.
The graph takes NHWC input like goqat, with a dynamic batch dimension.

--format tflite writes an integer or QAT model as a TensorFlow Lite flatbuffer
(schema 3) for TFLite's int8 kernels: int8 activations, per-channel int8
weights, int32 biases, fused ReLU/ReLU6, batch 1; float input and output with
QUANTIZE/DEQUANTIZE at the edges, or int8 ones with --full-integer. A QAT
model is converted with --rounding tflite, so that goqat's integer model and
TFLite's runtime compute the same codes; an integer model converted otherwise
is written as it is (the file does not depend on the rounding; a note says
how to run it as TFLite does). A float model is written with FLOAT32 tensors
(docs/tflite.md).`,
		Example: `  goqat export --format onnx --in float.safetensors --out float.onnx
  goqat export --format onnx --in model.int8.safetensors --out model.int8.onnx
  goqat export --format onnx --in model.int8.safetensors --out model.u8.onnx --uint8-activations
  goqat export --format tflite --in model.int8.safetensors --out model.tflite
  goqat export --format tflite --full-integer --in qat.safetensors --out model.int8io.tflite`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return fmt.Errorf("--in and --out are required")
			}
			if format != "onnx" && format != "tflite" {
				return fmt.Errorf("--format %q is not supported (onnx or tflite)", format)
			}
			if format == "tflite" && uint8Acts {
				return fmt.Errorf("--uint8-activations goes with --format onnx")
			}
			if err := checkPaths([]pathArg{{"--in", in}}, []pathArg{{"--out", out}}); err != nil {
				return err
			}
			if format == "tflite" {
				return runStoppable(cmd, func(ctx context.Context) error { return exportTFLite(ctx, in, out, fullInteger) })
			}
			var opts []onnx.Option
			if uint8Acts {
				opts = append(opts, onnx.Uint8Activations())
			}
			return runStoppable(cmd, func(ctx context.Context) error {
				mp, kind, err := exportONNX(in, fullInteger, opts)
				if err != nil {
					return err
				}
				// The data preprocessing recorded in the model file
				// (input size, channels, normalisation, class names) as
				// metadata_props.
				if err := addPreprocessingProps(in, mp); err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := saveOutput(func() error { return onnx.WriteFile(out, mp) }); err != nil {
					return err
				}
				st, err := os.Stat(out)
				if err != nil {
					return err
				}
				fmt.Printf("%s (%s) -> %s (%d bytes, ONNX opset %d, %s)\n", in, kind, out, st.Size(), onnx.Opset, opSummary(mp))
				return nil
			})
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&format, "format", "onnx", "output format: onnx or tflite")
	f.StringVar(&in, "in", "", "model file (.safetensors): float, QAT or integer")
	f.StringVar(&out, "out", "", "ONNX or .tflite file to write")
	f.BoolVar(&fullInteger, "full-integer", false, "int8 input and output: a QAT model is converted so; --format tflite also leaves out an integer model's QUANTIZE/DEQUANTIZE edges")
	f.BoolVar(&uint8Acts, "uint8-activations", false, "integer models: store activations as uint8 (zero point + 128, same values), which ONNX Runtime on x86 fuses fully")
	return cmd
}

// exportONNX loads any goqat model file and exports it; kind describes
// what was exported.
func exportONNX(path string, fullInteger bool, opts []onnx.Option) (*onnxpb.ModelProto, string, error) {
	isInt, err := lite.IsFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if isInt {
		im, err := lite.Load(path)
		if err != nil {
			return nil, "", err
		}
		mp, err := onnx.ExportInteger(im, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return mp, "integer model, QDQ", nil
	}
	m, err := nn.Load(path)
	if err != nil {
		return nil, "", err
	}
	if quantize.IsQAT(m) {
		var copts []convert.Option
		if fullInteger {
			copts = append(copts, convert.FullInteger())
		}
		im, err := convert.Convert(m, copts...)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		mp, err := onnx.ExportInteger(im, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return mp, "QAT model converted to integer, QDQ", nil
	}
	mp, err := onnx.ExportFloat(m)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return mp, "float model", nil
}

// exportTFLite loads a QAT or integer model and writes it as a .tflite
// file.
func exportTFLite(ctx context.Context, in, out string, fullInteger bool) error {
	isInt, err := lite.IsFile(in)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var im *lite.Model
	kind := "integer model"
	if isInt {
		if im, err = lite.Load(in); err != nil {
			return err
		}
	} else {
		m, err := nn.Load(in)
		if err != nil {
			return err
		}
		if !quantize.IsQAT(m) {
			if fullInteger {
				return fmt.Errorf("--full-integer goes with a QAT or integer model; %s is a float model", in)
			}
			if err := saveOutput(func() error { return tflite.WriteFloatFile(out, m) }); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			fmt.Printf("%s (float model) -> %s (%d bytes, TensorFlow Lite schema 3, float32)\n", in, out, st.Size())
			return nil
		}
		// Converted in TFLite rounding: the model written is the one
		// goqat runs as TFLite's runtime runs the file (docs/tflite.md).
		copts := []convert.Option{convert.Rounding(lite.RoundingTFLite)}
		if fullInteger {
			copts = append(copts, convert.FullInteger())
		}
		if im, err = convert.Convert(m, copts...); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		kind = "QAT model converted to integer, rounding tflite"
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opts := tflite.Options{FullInteger: fullInteger}
	if err := saveOutput(func() error { return tflite.WriteFile(out, im, opts) }); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	edges := "float input and output"
	if fullInteger {
		edges = "int8 input and output"
	}
	fmt.Printf("%s (%s) -> %s (%d bytes, TensorFlow Lite schema 3, int8, %s, %d goqat ops)\n", in, kind, out, st.Size(), edges, len(im.Ops))
	if im.Rounding != lite.RoundingTFLite {
		fmt.Printf("note: %s runs in goqat with rounding %s; TFLite's runtime computes the codes of rounding tflite (goqat convert --rounding tflite, or goqat import --rounding tflite of %s)\n", in, im.Rounding, out)
	}
	return nil
}

// opSummary counts a graph's nodes by op type: "31 nodes: Conv 3, ...".
func opSummary(mp *onnxpb.ModelProto) string {
	count := map[string]int{}
	for _, n := range mp.GetGraph().GetNode() {
		count[n.GetOpType()]++
	}
	var ops []string
	for op := range count {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for i, op := range ops {
		ops[i] = fmt.Sprintf("%s %d", op, count[op])
	}
	return fmt.Sprintf("%d nodes: %s", len(mp.GetGraph().GetNode()), strings.Join(ops, ", "))
}
