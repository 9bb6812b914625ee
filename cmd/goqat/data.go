package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/format/tflite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/safetensors"
	"github.com/spf13/pflag"
)

// dataFlags are the flags every command that reads a dataset shares.
type dataFlags struct {
	name        string
	dir         string
	trainLimit  int
	testLimit   int
	input       string // "HxW[xC]": the image size ("" keeps it)
	fit         string // crop, pad or stretch ("": per source)
	channels    int    // 1 or 3 for image folders (0: inferred)
	labelColumn string // CSV label column, or coarse/fine for CIFAR-100
	onBadFile   string // fail or skip
	valSplit    float64
	valData     string
	splitSeed   uint64

	// The training commands' data flags (addTrainDataFlags).
	augment string // --augment spec ("" none)
	workers int    // loader goroutines
	stream  bool   // read image folders from disk every epoch

	kind  datasets.Kind           // what --data held ("" for a built-in set), set by load
	model *datasets.Preprocessing // the evaluated model's, set by fromModel
}

// builtinData reports whether name is one of the built-in data sets
// (datasets.Load), which win over a path of the same name.
func builtinData(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mnist", "fashion", "fashion-mnist":
		return true
	}
	return false
}

// load reads the dataset (a built-in name or a path), splits off the
// validation set, brings the images to --input and applies the limits. A
// source with no test split of its own and no --validation-split or
// --val-data serves as both (what eval wants; train says so on stderr).
func (f *dataFlags) load() (train, test *datasets.Dataset, err error) {
	return f.loadSplits(true)
}

// loadTest is load for the commands that read only the test split: of a
// built-in set it decodes a single training image (its shape and classes
// serve the checks), not 60,000.
func (f *dataFlags) loadTest() (*datasets.Dataset, error) {
	_, test, err := f.loadSplits(false)
	return test, err
}

// loadSplits is load; needTrain false lets a built-in set skip decoding
// its training split.
func (f *dataFlags) loadSplits(needTrain bool) (train, test *datasets.Dataset, err error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	builtin := builtinData(f.name)
	if builtin {
		if train, test, err = f.loadBuiltin(needTrain); err != nil {
			return nil, nil, err
		}
	} else {
		if f.dir != "" {
			return nil, nil, fmt.Errorf("--data-dir applies to the built-in data sets; give the path as --data")
		}
		if train, test, err = f.open(f.name); err != nil {
			return nil, nil, err
		}
	}
	return f.finish(train, test, builtin)
}

// check rejects bad data flags with one clear line.
func (f *dataFlags) check() error {
	if f.trainLimit < 0 || f.testLimit < 0 {
		return fmt.Errorf("--train-limit and --test-limit must not be negative")
	}
	if !(f.valSplit >= 0 && f.valSplit < 1) {
		return fmt.Errorf("--validation-split %v: want a fraction in [0, 1)", f.valSplit)
	}
	if f.valSplit > 0 && f.valData != "" {
		return fmt.Errorf("--validation-split and --val-data exclude each other")
	}
	if f.onBadFile != "fail" && f.onBadFile != "skip" {
		return fmt.Errorf("--on-bad-file %q: want fail or skip", f.onBadFile)
	}
	if f.fit != "" {
		if _, err := datasets.ParseFit(f.fit); err != nil {
			return fmt.Errorf("--fit %q: want crop, pad or stretch", f.fit)
		}
	}
	if f.channels != 0 && f.channels != 1 && f.channels != 3 {
		return fmt.Errorf("--channels %d: want 1 or 3", f.channels)
	}
	return nil
}

// finish applies --val-data, --validation-split, the limits, --input (for
// the built-in sets) and the model's normalisation to the data read.
func (f *dataFlags) finish(train, test *datasets.Dataset, builtin bool) (*datasets.Dataset, *datasets.Dataset, error) {
	var err error
	if f.valData != "" {
		vt, vtest, err := f.open(f.valData)
		if err != nil {
			return nil, nil, fmt.Errorf("--val-data: %w", err)
		}
		if vtest != nil {
			vt = vtest // a source with its own test split: validate on it
		}
		if err := sameTask(train, vt); err != nil {
			return nil, nil, fmt.Errorf("--val-data %s: %w", f.valData, err)
		}
		test = vt
	}
	if f.valSplit > 0 {
		if train, test, err = datasets.Split(train, f.valSplit, f.splitSeed); err != nil {
			return nil, nil, fmt.Errorf("--validation-split: %w", err)
		}
	}
	if test == nil {
		fmt.Fprintf(os.Stderr, "note: %s has no test split: the test set is the training set (use --validation-split or --val-data to hold one out)\n", train.Name)
		test = train
	}
	if f.trainLimit > 0 && f.trainLimit < train.Len() {
		train = train.Take(f.trainLimit)
	}
	if f.testLimit > 0 && f.testLimit < test.Len() {
		test = test.Take(f.testLimit)
	}
	if builtin && f.input != "" {
		if train, test, err = f.shapeBuiltin(train, test); err != nil {
			return nil, nil, err
		}
	}
	if p := f.model; p != nil {
		if strings.Join(p.ClassNames, "\x00") != strings.Join(train.ClassNames, "\x00") {
			fmt.Fprintf(os.Stderr, "note: the model was trained on the classes %s; %s has %s\n",
				shortList(p.ClassNames), train.Name, shortList(train.ClassNames))
		}
		if !p.Identity() && train.X.Shape[1:].Equal(p.Input) {
			same := test == train
			train = train.Clone() // the built-in sets are shared caches
			p.Normalize(train.X.Data)
			if same {
				test = train
			} else {
				test = test.Clone()
				p.Normalize(test.X.Data)
			}
		}
	}
	return train, test, nil
}

// shortList joins names with commas, eliding all but the first few.
func shortList(names []string) string {
	if len(names) > 6 {
		return strings.Join(names[:5], ",") + fmt.Sprintf(",... (%d)", len(names))
	}
	return strings.Join(names, ",")
}

// fromModel reads the preprocessing recorded in the model file at path (if
// any) and, unless the flags say otherwise, prepares the data the same way:
// the image size, channels and fit; load then notes differing class names.
func (f *dataFlags) fromModel(path string) error {
	if isTFLite, err := tflite.IsFile(path); err != nil || isTFLite {
		return err // a .tflite file records no preprocessing
	}
	p, err := datasets.ReadPreprocessing(path)
	if err != nil || p == nil {
		return err
	}
	f.model = p
	if p.Kind == "image" && f.input == "" {
		f.input = fmt.Sprintf("%dx%d", p.Input[0], p.Input[1])
		if f.channels == 0 && !builtinData(f.name) {
			f.channels = p.Input[2]
		}
		if f.fit == "" {
			f.fit = string(p.Fit)
		}
	}
	return nil
}

// effectiveFit is how the images reached --input ("" if not resized).
func (f *dataFlags) effectiveFit() datasets.Fit {
	switch {
	case f.input == "":
		return ""
	case f.fit != "":
		return datasets.Fit(f.fit)
	case f.kind == datasets.KindImageFolder:
		return datasets.FitCrop
	}
	return datasets.FitPad
}

// saveModel saves m to out as nn.Save does, with the preprocessing of
// train recorded in the metadata (datasets.PreprocessingKey).
func (f *dataFlags) saveModel(out string, m *nn.Model, train datasets.Source) error {
	st, err := nn.ToSafetensors(m)
	if err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	if _, err := datasets.AddPreprocessing(st, datasets.PreprocessingOf(train, f.effectiveFit())); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	return safetensors.WriteFile(out, st)
}

// saveModelFrom saves m to out as nn.Save does, keeping the preprocessing
// recorded in the model file from (if any).
func saveModelFrom(out string, m *nn.Model, from string) error {
	if err := nn.Save(out, m); err != nil {
		return err
	}
	return datasets.CopyPreprocessing(from, out)
}

// loadBuiltin reads mnist or fashion; --channels, --label-column and
// --on-bad-file skip do not apply.
func (f *dataFlags) loadBuiltin(needTrain bool) (train, test *datasets.Dataset, err error) {
	if f.labelColumn != "" {
		return nil, nil, fmt.Errorf("--label-column applies to CSV files and CIFAR-100, not to %s", f.name)
	}
	if f.valSplit > 0 || f.valData != "" {
		return datasets.Load(f.name, f.dir) // the split draws from every sample
	}
	// Only what the limits keep is decoded (finish takes the same first
	// samples).
	trainN := f.trainLimit
	if !needTrain {
		trainN = 1
	}
	return datasets.LoadFirst(f.name, f.dir, trainN, f.testLimit)
}

// shapeBuiltin brings 28x28 built-in images to --input: zero-padded by
// default (--fit pad), resized by --fit crop or stretch.
func (f *dataFlags) shapeBuiltin(train, test *datasets.Dataset) (*datasets.Dataset, *datasets.Dataset, error) {
	sh, err := parseInput(f.input)
	if err != nil {
		return nil, nil, err
	}
	if c := train.X.Shape[3]; sh[2] != c && strings.Count(f.input, "x") == 2 {
		return nil, nil, fmt.Errorf("--input %s: the %s images have %d channel(s); padding keeps them", f.input, f.name, c)
	}
	if f.channels != 0 && f.channels != train.X.Shape[3] {
		return nil, nil, fmt.Errorf("--channels %d: the %s images have %d channel(s)", f.channels, f.name, train.X.Shape[3])
	}
	fit := datasets.FitPad
	if f.fit != "" {
		fit = datasets.Fit(f.fit)
	}
	if train, err = datasets.Resize(train, sh[0], sh[1], fit); err != nil {
		return nil, nil, fmt.Errorf("--input %s: %w", f.input, err)
	}
	if test, err = datasets.Resize(test, sh[0], sh[1], fit); err != nil {
		return nil, nil, fmt.Errorf("--input %s: %w", f.input, err)
	}
	return train, test, nil
}

// options turns the flags into datasets.Options for a path.
func (f *dataFlags) options() (datasets.Options, error) {
	o := datasets.Options{
		Channels:    f.channels,
		Fit:         datasets.Fit(f.fit),
		LabelColumn: f.labelColumn,
		SkipBad:     f.onBadFile == "skip",
		Warn: func(err error) {
			fmt.Fprintf(os.Stderr, "skipped: %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
		},
	}
	if f.input != "" {
		sh, err := parseInput(f.input)
		if err != nil {
			return o, err
		}
		o.Height, o.Width = sh[0], sh[1]
		if strings.Count(f.input, "x") == 2 {
			if f.channels != 0 && f.channels != sh[2] {
				return o, fmt.Errorf("--input %s and --channels %d disagree", f.input, f.channels)
			}
			if sh[2] != 1 && sh[2] != 3 {
				return o, fmt.Errorf("--input %s: %d channels: want 1 or 3", f.input, sh[2])
			}
			o.Channels = sh[2]
		}
	}
	return o, nil
}

// open reads the data at path with the flags' options.
func (f *dataFlags) open(path string) (train, test *datasets.Dataset, err error) {
	o, err := f.options()
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(path); err != nil && !strings.ContainsAny(path, `/\.`) {
		return nil, nil, fmt.Errorf("unknown data set %q: want mnist, fashion, or a path (folder of class folders, .csv, .npy, .npz, CIFAR or IDX folder)", path)
	}
	if path == f.name {
		if f.kind, err = datasets.DetectKind(path); err != nil {
			return nil, nil, err
		}
	}
	return datasets.Open(path, o)
}

// sameTask checks that a validation set fits the training set: the same
// example shape and class names.
func sameTask(train, val datasets.Source) error {
	if !train.ExampleShape().Equal(val.ExampleShape()) {
		return fmt.Errorf("examples of shape %v, the training set's are %v", val.ExampleShape(), train.ExampleShape())
	}
	if strings.Join(train.LabelNames(), "\x00") != strings.Join(val.LabelNames(), "\x00") {
		return fmt.Errorf("classes %s differ from the training set's %s", strings.Join(val.LabelNames(), ","), strings.Join(train.LabelNames(), ","))
	}
	return nil
}

// addDataFlags registers --data (and its alias --dataset, hidden from the
// help), --data-dir, the limits, the image, CSV and split flags.
func addDataFlags(f *pflag.FlagSet, df *dataFlags) {
	f.StringVar(&df.name, "data", "mnist", "data: mnist (embedded), fashion, or a path: a folder of class subfolders of images, a .csv, .npy or .npz file, a CIFAR binary folder or file, an IDX folder (--dataset is an alias)")
	f.StringVar(&df.name, "dataset", "mnist", "alias of --data")
	if err := f.MarkHidden("dataset"); err != nil {
		panic(err) // the flag was just defined
	}
	f.StringVar(&df.dir, "data-dir", "", "folder of IDX files for fashion (default "+datasets.DefaultFashionDir+")")
	f.IntVar(&df.trainLimit, "train-limit", 0, "use only the first N training images (0: all)")
	f.IntVar(&df.testLimit, "test-limit", 0, "use only the first N test images (0: all)")
	f.StringVar(&df.input, "input", "", "image size HxW or HxWxC: image folders are resized to it, image arrays padded with zeros, centred (e.g. 32x32 for resnet20 on 28x28 images); see --fit")
	f.StringVar(&df.fit, "fit", "", "how images reach --input: crop (scale to cover, cut the centre; default for image folders), pad (image folders: scale to fit, pad; arrays: zero-pad without scaling, their default) or stretch")
	f.IntVar(&df.channels, "channels", 0, "image folders: 1 (grayscale) or 3 (RGB) (0: 1 if every image is grayscale, else 3)")
	f.StringVar(&df.labelColumn, "label-column", "", "CSV label column, a header name or an index from 0 (default: the last column); coarse or fine for CIFAR-100 (default fine)")
	f.StringVar(&df.onBadFile, "on-bad-file", "fail", "an unreadable image in an image folder: fail, or skip it (with a note on stderr)")
	f.Float64Var(&df.valSplit, "validation-split", 0, "hold out this fraction of the training data, shuffled with --split-seed, as the test set (0: none)")
	f.StringVar(&df.valData, "val-data", "", "a separate validation set (any --data path; its test split if it has one) as the test set")
	f.Uint64Var(&df.splitSeed, "split-seed", 1, "seed of the --validation-split shuffle")
}

// addPreprocessingProps records the preprocessing of the model file in (if
// it has one) in the ONNX model mp's metadata_props: the whole record
// under datasets.PreprocessingKey and its readable parts (input size,
// channel order, fit, mean/std, class names).
func addPreprocessingProps(in string, mp *onnxpb.ModelProto) error {
	p, err := datasets.ReadPreprocessing(in)
	if err != nil || p == nil {
		return err
	}
	props, err := p.MetadataProps()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	for _, kv := range props {
		onnx.SetMetadata(mp, kv.Key, kv.Value)
	}
	return nil
}
