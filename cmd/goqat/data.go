package main

import (
	"fmt"
	"strings"

	"github.com/goqat/goqat/datasets"
	"github.com/spf13/pflag"
)

// dataFlags are the flags every command that reads a dataset shares.
type dataFlags struct {
	name       string
	dir        string
	trainLimit int
	testLimit  int
	input      string // "HxW": pad the images to this size ("" keeps them)
}

// load reads the dataset and applies the limits.
func (f *dataFlags) load() (train, test *datasets.Dataset, err error) {
	train, test, err = datasets.Load(f.name, f.dir)
	if err != nil {
		return nil, nil, err
	}
	if f.trainLimit < 0 || f.testLimit < 0 {
		return nil, nil, fmt.Errorf("--train-limit and --test-limit must not be negative")
	}
	if f.trainLimit > 0 && f.trainLimit < train.Len() {
		train = train.Take(f.trainLimit)
	}
	if f.testLimit > 0 && f.testLimit < test.Len() {
		test = test.Take(f.testLimit)
	}
	if f.input != "" {
		sh, err := parseInput(f.input)
		if err != nil {
			return nil, nil, err
		}
		if c := train.X.Shape[3]; sh[2] != c && strings.Count(f.input, "x") == 2 {
			return nil, nil, fmt.Errorf("--input %s: the %s images have %d channel(s); padding keeps them", f.input, f.name, c)
		}
		if train, err = datasets.PadTo(train, sh[0], sh[1]); err != nil {
			return nil, nil, fmt.Errorf("--input %s: %w", f.input, err)
		}
		if test, err = datasets.PadTo(test, sh[0], sh[1]); err != nil {
			return nil, nil, fmt.Errorf("--input %s: %w", f.input, err)
		}
	}
	return train, test, nil
}

// addDataFlags registers --data (and its alias --dataset, hidden from the
// help), --data-dir and the limits.
func addDataFlags(f *pflag.FlagSet, df *dataFlags) {
	f.StringVar(&df.name, "data", "mnist", "dataset: mnist (embedded) or fashion (--dataset is an alias)")
	f.StringVar(&df.name, "dataset", "mnist", "alias of --data")
	if err := f.MarkHidden("dataset"); err != nil {
		panic(err) // the flag was just defined
	}
	f.StringVar(&df.dir, "data-dir", "", "folder of IDX files for fashion (default "+datasets.DefaultFashionDir+")")
	f.IntVar(&df.trainLimit, "train-limit", 0, "use only the first N training images (0: all)")
	f.IntVar(&df.testLimit, "test-limit", 0, "use only the first N test images (0: all)")
	f.StringVar(&df.input, "input", "", "pad the images with zeros, centred, to HxW (e.g. 32x32 for resnet20 on 28x28 images)")
}
