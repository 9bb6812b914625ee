package main

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/spf13/pflag"
)

// distillFlags are quantize's distillation flags (docs/DESIGN.md, QAT:
// distillation): --distill, --teacher, --distill-alpha and
// --distill-temperature.
type distillFlags struct {
	on          bool
	teacherPath string
	alpha, temp float64
	teacher     *nn.Model // set by load: the float model or --teacher's
}

// addDistillFlags registers the distillation flags.
func addDistillFlags(f *pflag.FlagSet, d *distillFlags) {
	f.BoolVar(&d.on, "distill", false, "fine-tune against the float model's logits (knowledge distillation) as well as the labels")
	f.StringVar(&d.teacherPath, "teacher", "", "distil from this model (.safetensors, the same input and output shapes) instead of the float model; implies --distill")
	f.Float64Var(&d.alpha, "distill-alpha", quantize.DefaultDistillAlpha, "weight of the distillation term, in (0, 1]; the labels' cross-entropy weighs 1-alpha")
	f.Float64Var(&d.temp, "distill-temperature", quantize.DefaultDistillTemperature, "temperature T softening both distributions (the term is scaled by T^2)")
}

// active reports whether the run distils.
func (d *distillFlags) active() bool { return d.on || d.teacherPath != "" }

// validate rejects impossible settings with one clear line.
func (d *distillFlags) validate() error {
	switch {
	case !(d.alpha > 0 && d.alpha <= 1):
		return fmt.Errorf("--distill-alpha must be in (0, 1], got %g", d.alpha)
	case !(d.temp > 0) || math.IsInf(d.temp, 0):
		return fmt.Errorf("--distill-temperature must be a positive number, got %g", d.temp)
	case !d.active() && (d.alpha != quantize.DefaultDistillAlpha || d.temp != quantize.DefaultDistillTemperature):
		return fmt.Errorf("--distill-alpha and --distill-temperature need --distill or --teacher")
	}
	return nil
}

// input is the teacher file for checkPaths, if any.
func (d *distillFlags) input() []pathArg {
	if d.teacherPath == "" {
		return nil
	}
	return []pathArg{{"--teacher", d.teacherPath}}
}

// load sets the teacher: --teacher's model, or the float model fm.
func (d *distillFlags) load(fm *nn.Model) error {
	if !d.active() {
		return nil
	}
	if d.teacherPath == "" {
		d.teacher = fm
		return nil
	}
	t, err := nn.Load(d.teacherPath)
	if err != nil {
		return fmt.Errorf("--teacher: %w", err)
	}
	if len(t.Inputs()) != 1 || len(t.Outputs()) != 1 || len(fm.Inputs()) != 1 || len(fm.Outputs()) != 1 {
		return fmt.Errorf("--teacher %s: distillation needs one input and one output", d.teacherPath)
	}
	if ti, fi := t.Inputs()[0], fm.Inputs()[0]; !ti.Equal(fi) {
		return fmt.Errorf("--teacher %s takes %s but --in takes %s", d.teacherPath, ti, fi)
	}
	if to, fo := t.Outputs()[0], fm.Outputs()[0]; !to.Equal(fo) {
		return fmt.Errorf("--teacher %s gives %s but --in gives %s", d.teacherPath, to, fo)
	}
	d.teacher = t
	return nil
}

// distillation is the library's setting of the flags.
func (d *distillFlags) distillation() quantize.Distillation {
	return quantize.Distillation{Teacher: d.teacher, Alpha: d.alpha, Temperature: d.temp}
}

// note describes the distillation for the plan line ("" without).
func (d *distillFlags) note(in string) string {
	if !d.active() {
		return ""
	}
	return fmt.Sprintf(", distilling from %s (alpha %g, T %g)", d.name(in), d.alpha, d.temp)
}

// name is the teacher's file: --teacher's or the float model's (in).
func (d *distillFlags) name(in string) string {
	if d.teacherPath != "" {
		return d.teacherPath
	}
	return in
}

// record adds the distillation settings to the JSON results.
func (d *distillFlags) record(res map[string]any, in string) {
	if !d.active() {
		return
	}
	res["distill"] = map[string]any{"teacher": d.name(in), "alpha": d.alpha, "temperature": d.temp}
}
