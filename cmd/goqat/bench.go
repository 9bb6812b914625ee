package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
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

func newBenchCmd() *cobra.Command {
	var (
		path, batches, jsonPath string
		threads                 int
		minTime                 time.Duration
		trainImages             int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time inference (and optionally training) of a model",
		Example: `  goqat bench --model mnist-cnn --batch 1,64 --threads 2
  goqat bench --model float.safetensors --train 6400 --json bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bs, err := parseBatches(batches)
			if err != nil {
				return err
			}
			if threads > 0 {
				kernels.SetThreads(threads)
			}
			m, err := loadOrBuild(path)
			if err != nil {
				return err
			}
			res := map[string]any{"model": path, "threads": kernels.Threads(), "f32_gemm_path": kernels.ActivePath().String()}
			fmt.Printf("%s: %d threads, f32 GEMM path %s\n", path, kernels.Threads(), kernels.ActivePath())
			fmt.Printf("%-8s %14s %12s\n", "batch", "float ms/img", "images/s")
			for _, b := range bs {
				ms, err := timeFloat(cmd.Context(), m, b, minTime)
				if err != nil {
					return err
				}
				fmt.Printf("%-8d %14.4f %12.0f\n", b, ms, 1000/ms)
				res[fmt.Sprintf("float_ms_per_image_b%d", b)] = ms
			}
			if trainImages > 0 {
				ips, err := timeTraining(cmd.Context(), m, trainImages)
				if err != nil {
					return err
				}
				fmt.Printf("training (batch 128, Adam): %.0f images/s\n", ips)
				res["train_images_per_second"] = ips
			}
			if jsonPath != "" {
				return writeJSON(jsonPath, res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "model", "mnist-cnn", "model file, or a built-in model name for a fresh 28x28x1, 10-class model")
	f.StringVar(&batches, "batch", "1,64", "comma-separated batch sizes")
	f.IntVar(&threads, "threads", 0, "compute threads (0: all cores)")
	f.DurationVar(&minTime, "min-time", 2*time.Second, "time spent per measurement")
	f.IntVar(&trainImages, "train", 0, "also time training on this many synthetic images (one epoch, batch 128)")
	f.StringVar(&jsonPath, "json", "", "also write the results to this JSON file")
	return cmd
}

// loadOrBuild loads a model file, or builds a built-in model by name.
func loadOrBuild(path string) (*nn.Model, error) {
	for _, n := range models.Names() {
		if n == path {
			return models.Build(n, tensor.Shape{28, 28, 1}, 10, 1)
		}
	}
	return nn.Load(path)
}
