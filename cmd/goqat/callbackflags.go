package main

import (
	"fmt"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
	"github.com/spf13/pflag"
)

// callbackFlags are goqat train's Keras callbacks (all monitoring the
// validation loss) and class weights (docs/DESIGN.md, Training callbacks).
type callbackFlags struct {
	earlyStopping  int     // patience (0: none)
	checkpointBest string  // model file saved at each improvement
	plateau        bool    // ReduceLROnPlateau
	plateauFactor  float64 // its factor
	plateauWait    int     // its patience
	csvLog         string  // CSVLogger file
	classWeight    string  // "balanced" or "0:1,1:5"
}

// addCallbackFlags registers the callback and class-weight flags.
func addCallbackFlags(f *pflag.FlagSet, c *callbackFlags) {
	f.IntVar(&c.earlyStopping, "early-stopping", 0, "stop after this many epochs without a better validation loss and keep the best epoch's weights (0: off)")
	f.StringVar(&c.checkpointBest, "checkpoint-best", "", "save the model to this file (atomically) at every epoch that improves the validation loss")
	f.BoolVar(&c.plateau, "reduce-lr-on-plateau", false, "multiply the learning rate by --plateau-factor after --plateau-patience epochs without a better validation loss")
	f.Float64Var(&c.plateauFactor, "plateau-factor", 0.5, "learning-rate factor of --reduce-lr-on-plateau, in (0, 1)")
	f.IntVar(&c.plateauWait, "plateau-patience", 2, "epochs without improvement before --reduce-lr-on-plateau lowers the rate")
	f.StringVar(&c.csvLog, "csv-log", "", "write the epoch metrics to this CSV file, one row per epoch (appended to with --resume)")
	f.StringVar(&c.classWeight, "class-weight", "", `weight each example's loss by its class: "balanced" (n / (classes * count)) or class:weight pairs, e.g. 0:1,1:5`)
}

// validate rejects impossible settings with one clear line.
func (c *callbackFlags) validate() error {
	switch {
	case c.earlyStopping < 0:
		return fmt.Errorf("--early-stopping must not be negative, got %d", c.earlyStopping)
	case c.plateau && !(c.plateauFactor > 0 && c.plateauFactor < 1):
		return fmt.Errorf("--plateau-factor must be in (0, 1), got %g", c.plateauFactor)
	case c.plateauWait < 0:
		return fmt.Errorf("--plateau-patience must not be negative, got %d", c.plateauWait)
	}
	if c.classWeight != "" && c.classWeight != "balanced" {
		if _, err := nn.ParseClassWeight(c.classWeight); err != nil {
			return fmt.Errorf("--class-weight: %w", err)
		}
	}
	return nil
}

// outputs lists the files the flags write, for checkPaths.
func (c *callbackFlags) outputs() []pathArg {
	return []pathArg{{"--checkpoint-best", c.checkpointBest}, {"--csv-log", c.csvLog}}
}

// callbacks builds the callbacks the flags ask for, in Keras's order of
// effect (the rate is logged before the CSV row is written); save writes
// --checkpoint-best, which never replaces one of inputs. It also returns
// the EarlyStopping (nil without --early-stopping).
func (c *callbackFlags) callbacks(inputs []pathArg, resume bool, save func(string, *nn.Model) error) ([]nn.Callback, *nn.EarlyStopping) {
	var cbs []nn.Callback
	var es *nn.EarlyStopping
	if c.plateau {
		cbs = append(cbs, &nn.ReduceLROnPlateau{Monitor: "val_loss", Factor: c.plateauFactor, Patience: c.plateauWait})
	}
	if c.earlyStopping > 0 {
		es = &nn.EarlyStopping{Monitor: "val_loss", Patience: c.earlyStopping, RestoreBestWeights: true}
		cbs = append(cbs, es)
	}
	if c.checkpointBest != "" {
		protect := make([]string, len(inputs))
		for i, in := range inputs {
			protect[i] = in.path
		}
		cbs = append(cbs, &nn.ModelCheckpoint{Path: c.checkpointBest, Monitor: "val_loss", SaveBestOnly: true, Save: save, Protect: protect})
	}
	if c.csvLog != "" {
		cbs = append(cbs, &nn.CSVLogger{Path: c.csvLog, Append: resume})
	}
	return cbs, es
}

// classWeights returns the class weights of --class-weight for the
// training examples (nil without the flag).
func (c *callbackFlags) classWeights(train datasets.Source) (map[int]float64, error) {
	switch c.classWeight {
	case "":
		return nil, nil
	case "balanced":
		classes := len(train.LabelNames())
		if d, ok := train.(*datasets.Dataset); ok {
			classes = d.Classes
		}
		y := tensor.New(train.Len())
		for i := range y.Data {
			y.Data[i] = float32(train.Label(i))
		}
		cw, err := nn.BalancedClassWeights(y, classes)
		if err != nil {
			return nil, fmt.Errorf("--class-weight balanced: %w", err)
		}
		return cw, nil
	}
	cw, err := nn.ParseClassWeight(c.classWeight)
	if err != nil {
		return nil, fmt.Errorf("--class-weight: %w", err)
	}
	return cw, nil
}
