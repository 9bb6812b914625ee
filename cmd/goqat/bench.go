package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"github.com/goqat/goqat/threads"
	"github.com/spf13/cobra"
)

// parseBatches parses "1,64" into batch sizes.
func parseBatches(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--batch: %q is not a positive batch size", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchSet is what bench times: a float model, an integer model, or both.
type benchSet struct {
	float     *nn.Model   // timed as float; nil: none
	int8      *lite.Model // timed with the interpreter; nil: none
	trainable *nn.Model   // what --train trains: the float or the QAT model
	floatName string
	int8Name  string
}

func newBenchCmd() *cobra.Command {
	var (
		path, int8Path, batches, jsonPath string
		nThreads, trainImages             int
		minTime                           time.Duration
		ops, ptq, floatOnly               bool
		net                               netFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time float and int8 inference (and optionally training) of a model",
		Long: `bench times inference, side by side in one run: the median milliseconds
per image over repeated passes after a warm-up, at each batch size, and the
images per second; it names the kernel paths used. Float and int8 passes
alternate, so that both see the same phases of a shared machine.

What is timed depends on the files given:
  --model float.safetensors               float only
  --model float.safetensors --int8 FILE   float and int8 (FILE: a QAT model,
                                          converted in memory, or an integer model)
  --model qat.safetensors                 int8 only (the QAT model converted)
  --model model.int8.safetensors          int8 only
  --model float.safetensors --ptq         float and int8, the int8 model from
                                          8-bit PTQ on random inputs (any network
                                          can be timed without its data)
  --model resnet50 (a built-in name)      float and int8 of a fresh model for its
                                          canonical input and classes (--input,
                                          --classes, --alpha change them), the int8
                                          model from 8-bit PTQ on random inputs
                                          (same network, so the timing is fair)
  --float-only                            the float model alone (no PTQ)

--train N also times one training epoch on N synthetic images (batch 128,
Adam) of the float model, or of the QAT model when --model is one.

--ops also times each op of the int8 model on its own (median microseconds
per image over repeated runs, and its share of the total): which layer is
slow; then the ops by family (1x1, 3x3 and stem convolutions, depthwise
by stride, ...) with their operations per second (a multiply-add counts
two) and their share of the threads' VNNI peak, measured in the same run. Each op is split across threads; a large batch, which inference
splits across threads as a whole, can take less than the total.

The kernel paths are the fastest this CPU supports; the environment
variables GOQAT_F32_PATH (generic, avx2, avx512) and GOQAT_INT8_PATH
(generic, avx2, avx512vnni) cap them, e.g. to measure the AVX2 paths.`,
		Example: `  goqat bench --model mnist-cnn --batch 1,64 --threads 2
  goqat bench --model mobilenet-v2 --alpha 0.5 --input 224x224x3 --batch 1,8
  goqat bench --model imported.safetensors --ptq --batch 1
  goqat bench --model model.int8.safetensors --batch 64 --ops
  goqat bench --model goqat-demo/float.safetensors --int8 goqat-demo/model.int8.safetensors --json bench.json
  goqat bench --model float.safetensors --train 6400
  GOQAT_INT8_PATH=avx2 goqat bench --model mobilenet-tiny`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bs, err := parseBatches(batches)
			if err != nil {
				return err
			}
			switch {
			case nThreads < 0:
				return fmt.Errorf("--threads must not be negative, got %d", nThreads)
			case minTime <= 0:
				return fmt.Errorf("--min-time must be positive, got %v", minTime)
			case trainImages < 0:
				return fmt.Errorf("--train must not be negative, got %d", trainImages)
			}
			if nThreads > 0 {
				threads.Set(nThreads)
			}
			if ptq && int8Path != "" {
				return fmt.Errorf("--ptq and --int8 both name the int8 model; give one")
			}
			var inputs []pathArg
			if !builtinName(path) {
				inputs = append(inputs, pathArg{"--model", path})
			}
			inputs = append(inputs, pathArg{"--int8", int8Path})
			if err := checkPaths(inputs, []pathArg{{"--json", jsonPath}}); err != nil {
				return err
			}
			if floatOnly && (ptq || int8Path != "" || ops) {
				return fmt.Errorf("--float-only times no int8 model: drop --ptq, --int8 and --ops")
			}
			return runStoppable(cmd, func(ctx context.Context) error {
				return bench(ctx, path, int8Path, jsonPath, bs, minTime, ptq, ops, floatOnly, trainImages, &net)
			})
		},
	}
	f := cmd.Flags()
	addMemoryFlag(f)
	f.StringVar(&path, "model", "mnist-cnn", "float, QAT or integer model file, or a built-in model name ("+strings.Join(append(models.AllNames(), models.SequenceNames()...), ", ")+")")
	f.BoolVar(&ptq, "ptq", false, "time a float --model file against its 8-bit PTQ int8 model (calibrated on random inputs)")
	addNetFlags(f, &net)
	f.StringVar(&int8Path, "int8", "", "QAT or integer model file to time as int8 beside a float --model")
	f.StringVar(&batches, "batch", "1,64", "comma-separated batch sizes")
	f.IntVar(&nThreads, "threads", 0, "compute threads (0: "+threads.Env+" if set, else all cores)")
	f.DurationVar(&minTime, "min-time", 2*time.Second, "time spent per measurement (after the warm-up)")
	f.IntVar(&trainImages, "train", 0, "also time training on this many synthetic images (one epoch, batch 128)")
	f.StringVar(&jsonPath, "json", "", "also write the results to this JSON file")
	f.BoolVar(&ops, "ops", false, "also time each op of the int8 model")
	f.BoolVar(&floatOnly, "float-only", false, "time the float model alone (a built-in network is not quantized)")
	return cmd
}

// bench is goqat bench: it loads the models to time (loadBenchSet), times
// them at each batch size (the float model alone with floatOnly), and optionally each int8 op (ops) and training
// on trainImages synthetic images, and writes the figures to jsonPath.
func bench(ctx context.Context, path, int8Path, jsonPath string, bs []int, minTime time.Duration, ptq, ops, floatOnly bool, trainImages int, net *netFlags) error {
	set, err := loadBenchSet(ctx, path, int8Path, ptq && !floatOnly, floatOnly, net)
	if err != nil {
		return err
	}
	if floatOnly && set.float == nil {
		return fmt.Errorf("--float-only needs a float model; %s is not one", path)
	}
	if err := checkBenchMemory(set, bs); err != nil {
		return err
	}
	if ops && set.int8 == nil {
		return fmt.Errorf("--ops needs an int8 model (--int8, or a QAT or integer --model)")
	}
	if trainImages > 0 && set.trainable == nil {
		return fmt.Errorf("--train needs a float or QAT model, %s is an integer model", path)
	}
	res, err := runBench(ctx, set, bs, minTime)
	if err != nil {
		return err
	}
	if ops {
		// The threads' VNNI peak, measured in this run (one core's, times
		// the threads: the cores are alike).
		peak := qkernels.PeakGOPS(200*time.Millisecond) * float64(threads.N())
		if peak > 0 {
			res["vnni_peak_gops"] = peak
		}
		for _, b := range bs {
			rows, err := profileInt8(ctx, set.int8, b, minTime)
			if err != nil {
				return fmt.Errorf("%s: %w", set.int8Name, err)
			}
			res[fmt.Sprintf("int8_ops_b%d", b)] = rows
			res[fmt.Sprintf("int8_families_b%d", b)] = opFamilies(set.int8, rows, b, peak)
		}
	}
	if trainImages > 0 {
		ips, err := timeTraining(ctx, set.trainable, trainImages)
		if err != nil {
			return err
		}
		fmt.Printf("training (batch 128, Adam): %.0f images/s\n", ips)
		res["train_images_per_second"] = ips
	}
	if jsonPath == "" {
		return nil
	}
	return saveOutput(func() error { return writeJSON(jsonPath, res) })
}

// builtinName reports whether name is a built-in network (image or
// sequence).
func builtinName(name string) bool {
	return slices.Contains(models.AllNames(), name) || slices.Contains(models.SequenceNames(), name)
}

// loadBenchSet reads the models to time (see bench --help); floatOnly
// leaves out the int8 model of a built-in network.
func loadBenchSet(ctx context.Context, path, int8Path string, ptq, floatOnly bool, net *netFlags) (*benchSet, error) {
	if builtinName(path) {
		m, err := net.build(path, 1)
		if err != nil {
			return nil, err
		}
		s := &benchSet{float: m, trainable: m, floatName: path}
		if floatOnly {
			return s, nil
		}
		if int8Path == "" {
			if s.int8, err = ptqRandom(ctx, m); err != nil {
				if slices.Contains(models.SequenceNames(), path) {
					return nil, fmt.Errorf("%s has no int8 model (%v): time it with --float-only", path, err)
				}
				return nil, err
			}
			s.int8Name = path + " (8-bit PTQ)"
			return s, nil
		}
		if s.int8, err = loadInt8(int8Path); err != nil {
			return nil, err
		}
		s.int8Name = int8Path
		return s, nil
	}
	integer, err := isInteger(path)
	if err != nil {
		return nil, err
	}
	if integer {
		if flag := int8OrPTQ(int8Path, ptq); flag != "" {
			return nil, fmt.Errorf("%s goes with a float --model; %s is an integer model", flag, path)
		}
		im, err := lite.Load(path)
		if err != nil {
			return nil, err
		}
		return &benchSet{int8: im, int8Name: path}, nil
	}
	m, err := nn.Load(path)
	if err != nil {
		return nil, err
	}
	if quantize.IsQAT(m) {
		if flag := int8OrPTQ(int8Path, ptq); flag != "" {
			return nil, fmt.Errorf("%s goes with a float --model; %s is a QAT model", flag, path)
		}
		im, err := convert.Convert(m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &benchSet{int8: im, trainable: m, int8Name: path + " (converted)"}, nil
	}
	s := &benchSet{float: m, trainable: m, floatName: path}
	if ptq {
		if s.int8, err = ptqRandom(ctx, m); err != nil {
			return nil, err
		}
		s.int8Name = path + " (8-bit PTQ)"
	}
	if int8Path != "" {
		if s.int8, err = loadInt8(int8Path); err != nil {
			return nil, err
		}
		s.int8Name = int8Path
	}
	return s, nil
}

// int8OrPTQ names the flag that asks for an int8 model beside a float
// --model ("--int8" or "--ptq"), "" if neither is set.
func int8OrPTQ(int8Path string, ptq bool) string {
	switch {
	case int8Path != "":
		return "--int8"
	case ptq:
		return "--ptq"
	}
	return ""
}

// loadInt8 reads an integer model, or a QAT model and converts it.
func loadInt8(path string) (*lite.Model, error) {
	integer, err := isInteger(path)
	if err != nil {
		return nil, err
	}
	if integer {
		return lite.Load(path)
	}
	m, err := nn.Load(path)
	if err != nil {
		return nil, err
	}
	if !quantize.IsQAT(m) {
		return nil, fmt.Errorf("--int8 %s is a float model; give a QAT or integer model", path)
	}
	im, err := convert.Convert(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// ptqRandom returns the integer model of the float model m after 8-bit
// post-training quantization calibrated on random inputs in [0, 1) (64
// samples, fewer for large inputs): weights
// that compute nothing useful, but the same network and so the same work as
// a trained model's.
func ptqRandom(ctx context.Context, m *nn.Model) (*lite.Model, error) {
	qm, err := quantize.Model(m)
	if err != nil {
		return nil, err
	}
	// 64 samples, fewer for large inputs (at least 4; 16 at 224x224x3).
	n := max(4, min(64, (1<<21)/max(1, m.Inputs()[0].Size())))
	x := tensor.New(append([]int{n}, m.Inputs()[0]...)...)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	if err := quantize.Calibrate(ctx, qm, x, n); err != nil {
		return nil, err
	}
	return convert.Convert(qm)
}

// runBench times the set's models at each batch size, float then int8 for
// each batch so that the two are measured side by side, prints a table and
// returns the figures keyed as bench --json writes them.
func runBench(ctx context.Context, s *benchSet, batches []int, minTime time.Duration) (map[string]any, error) {
	res := map[string]any{
		"threads":          threads.N(),
		"batches":          batches,
		"min_time_seconds": minTime.Seconds(),
	}
	if s.float != nil {
		res["model"] = s.floatName
		res["f32_gemm_path"] = kernels.ActivePath().String()
		fmt.Printf("float: %s, f32 GEMM path %s\n", s.floatName, kernels.ActivePath())
	}
	if s.int8 != nil {
		res["int8_model"] = s.int8Name
		res["int8_path"] = lite.KernelPath()
		fmt.Printf("int8:  %s, int8 path %s\n", s.int8Name, lite.KernelPath())
	}
	fmt.Printf("%d threads; float and int8 passes alternating for %v after a warm-up, medians\n", threads.N(), minTime)
	fmt.Printf("%-6s", "batch")
	if s.float != nil {
		fmt.Printf(" %13s %12s", "float ms/img", "float img/s")
	}
	if s.int8 != nil {
		fmt.Printf(" %13s %12s", "int8 ms/img", "int8 img/s")
	}
	if s.float != nil && s.int8 != nil {
		fmt.Printf(" %9s", "speed-up")
	}
	fmt.Println()
	for _, b := range batches {
		fmt.Printf("%-6d", b)
		// Float and int8 passes alternate (medianMs), so that both see the
		// same phases of the machine.
		var runs []func() error
		if s.float != nil {
			runs = append(runs, floatRunner(s.float, b))
		}
		if s.int8 != nil {
			run, err := int8Runner(s.int8, b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.int8Name, err)
			}
			runs = append(runs, run)
		}
		ms, err := medianMs(ctx, runs, b, minTime)
		if err != nil {
			return nil, err
		}
		var fms, ims float64
		if s.float != nil {
			fms, ms = ms[0], ms[1:]
			res[fmt.Sprintf("float_ms_per_image_b%d", b)] = fms
			res[fmt.Sprintf("float_images_per_second_b%d", b)] = 1000 / fms
			fmt.Printf(" %13.4f %12.0f", fms, 1000/fms)
		}
		if s.int8 != nil {
			ims = ms[0]
			res[fmt.Sprintf("int8_ms_per_image_b%d", b)] = ims
			res[fmt.Sprintf("int8_images_per_second_b%d", b)] = 1000 / ims
			fmt.Printf(" %13.4f %12.0f", ims, 1000/ims)
		}
		if s.float != nil && s.int8 != nil {
			res[fmt.Sprintf("int8_speedup_b%d", b)] = fms / ims
			fmt.Printf(" %8.2fx", fms/ims)
		}
		fmt.Println()
	}
	return res, nil
}
