// Command conformance is the Go half of scripts/onnx_conformance.sh: it
// writes the MNIST test images as raw float32 and goqat's outputs of the
// models under test, and later compares them with ONNX Runtime's.
//
//	go run ./format/onnx/internal/conformance prepare --dir D --limit N [--data fashion] [--pad 32] float=F.safetensors int8=I.safetensors
//	go run ./format/onnx/internal/conformance compare --dir D float int8
//
// prepare writes D/inputs.f32 (N x 28 x 28 x 1, or N x PAD x PAD x 1 with
// --pad; little-endian float32, the images exactly as goqat evaluates them), D/<name>.goqat.f32 (goqat's
// outputs, float; an integer model's dequantized) and, for an integer
// model, D/<name>.json with the output's scale. compare reads
// D/<name>.ort.f32 too and checks the criteria: a float model's outputs
// within 1e-4 relative (|ort - goqat| <= 1e-4 * max|goqat| of the sample's
// row); an integer model's top-1 identical on at least 99.9% of the images
// and its outputs within one quantization step on at least 99.9% of the
// values. It prints the figures and exits 1 if a criterion fails.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance prepare|compare ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "prepare":
		err = prepare(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: "+err.Error())
		os.Exit(1)
	}
}

// modelInfo is what compare needs to know about a model.
type modelInfo struct {
	Kind    string  `json:"kind"` // "float" or "int8"
	Images  int     `json:"images"`
	Classes int     `json:"classes"`
	Scale   float32 `json:"scale,omitempty"` // int8: output scale
}

func prepare(args []string) error {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	dir := fs.String("dir", "", "output folder")
	limit := fs.Int("limit", 0, "first N test images (0: all)")
	data := fs.String("data", "mnist", "test set: mnist or fashion")
	pad := fs.Int("pad", 0, "zero-pad the images, centred, to PAD x PAD (0: as they are)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, test, err := datasets.Load(*data, "")
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < test.Len() {
		test = test.Take(*limit)
	}
	if *pad > 0 {
		if test, err = datasets.PadTo(test, *pad, *pad); err != nil {
			return err
		}
	}
	x := test.X
	if err := writeF32(filepath.Join(*dir, "inputs.f32"), x.Data); err != nil {
		return err
	}
	for _, a := range fs.Args() {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("argument %q: want name=file", a)
		}
		out, inf, err := run(path, x)
		if err != nil {
			return err
		}
		inf.Images = x.Shape[0]
		inf.Classes = out.Size() / x.Shape[0] // values per image
		if err := writeF32(filepath.Join(*dir, name+".goqat.f32"), out.Data); err != nil {
			return err
		}
		js, _ := json.Marshal(inf)
		if err := os.WriteFile(filepath.Join(*dir, name+".json"), js, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: goqat outputs %v of %s\n", name, out.Shape, path)
	}
	return nil
}

// run computes a model's outputs on x with goqat.
func run(path string, x *tensor.Tensor) (*tensor.Tensor, modelInfo, error) {
	isInt, err := lite.IsFile(path)
	if err != nil {
		return nil, modelInfo{}, err
	}
	if !isInt {
		m, err := nn.Load(path)
		if err != nil {
			return nil, modelInfo{}, err
		}
		out, err := m.Predict(context.Background(), x, 256)
		return out, modelInfo{Kind: "float"}, err
	}
	im, err := lite.Load(path)
	if err != nil {
		return nil, modelInfo{}, err
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		return nil, modelInfo{}, err
	}
	o := im.Outputs[0]
	for _, op := range im.Ops {
		if op.Output == o && op.Type == lite.OpDequantize {
			o = op.Inputs[0]
		}
	}
	inf := modelInfo{Kind: "int8", Scale: im.Tensors[o].Scale}
	var all *tensor.Tensor
	n := x.Shape[0]
	for lo := 0; lo < n; lo += 256 {
		hi := min(lo+256, n)
		if err := it.SetInput(0, x.Batch(lo, hi)); err != nil {
			return nil, inf, err
		}
		if err := it.Invoke(); err != nil {
			return nil, inf, err
		}
		y := it.Output(0)
		if all == nil {
			s := y.Shape.Clone()
			s[0] = n
			all = tensor.New(s...)
		}
		per := y.Size() / (hi - lo)
		copy(all.Data[lo*per:], y.Data)
	}
	return all, inf, nil
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder of prepare's and the runtime's files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	failed := false
	for _, name := range fs.Args() {
		// "info:NAME" reports NAME without gating on it.
		name, info := strings.CutPrefix(name, "info:")
		var inf modelInfo
		js, err := os.ReadFile(filepath.Join(*dir, name+".json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(js, &inf); err != nil {
			return err
		}
		g, err := readF32(filepath.Join(*dir, name+".goqat.f32"))
		if err != nil {
			return err
		}
		o, err := readF32(filepath.Join(*dir, name+".ort.f32"))
		if err != nil {
			return err
		}
		if len(g) != len(o) || len(g) != inf.Images*inf.Classes {
			return fmt.Errorf("%s: %d goqat and %d runtime values, want %d", name, len(g), len(o), inf.Images*inf.Classes)
		}
		ok := report(name, inf, g, o)
		if info {
			fmt.Printf("%-16s (informational: reported, not gating)\n", "")
		} else {
			failed = failed || !ok
		}
	}
	if failed {
		return errors.New("a conformance criterion failed")
	}
	return nil
}

// report prints one model's figures and reports whether its criteria hold.
func report(name string, inf modelInfo, g, o []float32) bool {
	k := inf.Classes
	same, maxRel := 0, 0.0
	var rels []float64
	within, exact, maxSteps := 0, 0, 0.0
	for i := 0; i < inf.Images; i++ {
		gr, or := g[i*k:(i+1)*k], o[i*k:(i+1)*k]
		if argmax(gr) == argmax(or) {
			same++
		}
		scale := 0.0
		for _, v := range gr {
			scale = max(scale, math.Abs(float64(v)))
		}
		for j := range gr {
			d := math.Abs(float64(gr[j]) - float64(or[j]))
			if scale > 0 {
				rels = append(rels, d/scale)
				maxRel = max(maxRel, d/scale)
			}
			if inf.Kind == "int8" {
				steps := d / float64(inf.Scale)
				maxSteps = max(maxSteps, steps)
				if steps <= 1+1e-3 {
					within++
				}
				if steps < 1e-3 {
					exact++
				}
			}
		}
	}
	sort.Float64s(rels)
	top1 := float64(same) / float64(inf.Images)
	if inf.Kind == "float" {
		ok := maxRel <= 1e-4
		fmt.Printf("%-16s float: %d images, top-1 identical %.2f%%, max |ort-goqat|/max|goqat| %.3g (median %.3g), criterion <= 1e-4: %s\n",
			name, inf.Images, 100*top1, maxRel, rels[len(rels)/2], verdict(ok))
		return ok
	}
	frac := float64(within) / float64(len(g))
	ok := top1 >= 0.999 && frac >= 0.999
	fmt.Printf("%-16s int8:  %d images, top-1 identical %.2f%% (>= 99.9%%), outputs within one step (scale %.4g) %.3f%% (>= 99.9%%), identical %.3f%%, max %.2f steps: %s\n",
		name, inf.Images, 100*top1, inf.Scale, 100*frac, 100*float64(exact)/float64(len(g)), maxSteps, verdict(ok))
	return ok
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func writeF32(path string, v []float32) error {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	return os.WriteFile(path, buf, 0o644)
}

func readF32(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of float32", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}
