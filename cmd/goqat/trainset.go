package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
	"github.com/spf13/pflag"
)

// trainSet is the training data of train and quantize: in memory, or an
// image folder streamed from disk (docs/DESIGN.md, Data loading).
type trainSet struct {
	mem  *datasets.Dataset // the examples in memory; nil when streamed
	src  datasets.Source   // the examples: mem, or read from disk
	name string
}

// Len is the number of training examples.
func (t *trainSet) Len() int { return t.src.Len() }

// addTrainDataFlags registers the training commands' data flags:
// augmentation and the loader.
func addTrainDataFlags(f *pflag.FlagSet, df *dataFlags) {
	f.Var((*augmentFlag)(&df.augment), "augment", "augment the training images (not the test set), a comma-separated list: crop[:PAD] (random crop after zero padding, PAD pixels, default 4), flip (horizontal, p=1/2), resized-crop[:MINAREA] (random window of at least MINAREA of the area, default 0.75, aspect 3/4..4/3, resized back); drawn from (--seed, epoch, example), the same for any --loader-workers; e.g. crop:4,flip")
	f.IntVar(&df.workers, "loader-workers", 2, "goroutines that read, decode and augment training batches ahead of the training step (with --augment or --stream); the batches do not depend on it")
	f.BoolVar(&df.stream, "stream", false, "image folders: decode the images from disk every epoch (only the file list in memory) instead of once into memory; automatic when the decoded images pass the 4 GiB in-memory limit. Needs --validation-split or --val-data; a file that fails to decode stops training")
}

// augmentFlag is --augment, checked as it is parsed
// (datasets.ParseAugment).
type augmentFlag string

// String is the spec given.
func (a *augmentFlag) String() string { return string(*a) }

// Set checks and keeps the spec.
func (a *augmentFlag) Set(s string) error {
	if _, err := datasets.ParseAugment(s, 0); err != nil {
		return err
	}
	*a = augmentFlag(s)
	return nil
}

// Type names the value in --help.
func (a *augmentFlag) Type() string { return "list" }

// loadTrain reads the training data as load does, except that an image
// folder is streamed from disk with --stream or when it does not fit in
// memory (datasets.MaxValues).
func (f *dataFlags) loadTrain() (*trainSet, *datasets.Dataset, error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	if _, err := datasets.ParseAugment(f.augment, 0); err != nil {
		return nil, nil, fmt.Errorf("--augment: %w", err)
	}
	if f.workers < 1 {
		return nil, nil, fmt.Errorf("--loader-workers %d: want at least 1", f.workers)
	}
	kind := datasets.Kind("")
	if !builtinData(f.name) {
		if _, err := os.Stat(f.name); err == nil {
			kind, _ = datasets.DetectKind(f.name)
		}
	}
	if kind != datasets.KindImageFolder {
		if f.stream {
			return nil, nil, fmt.Errorf("--stream applies to image folders, not to %s", f.name)
		}
		train, test, err := f.load()
		if err != nil {
			return nil, nil, err
		}
		return &trainSet{mem: train, src: train, name: train.Name}, test, nil
	}
	if f.dir != "" {
		return nil, nil, fmt.Errorf("--data-dir applies to the built-in data sets; give the path as --data")
	}
	if f.labelColumn != "" {
		return nil, nil, fmt.Errorf("data %s: a label column applies to CSV files (and coarse or fine to CIFAR-100), not to %s data", f.name, kind)
	}
	o, err := f.options()
	if err != nil {
		return nil, nil, err
	}
	f.kind = kind
	folder, err := datasets.OpenImageFolder(f.name, datasets.ImageFolderOptions{Height: o.Height, Width: o.Width,
		Channels: o.Channels, Fit: o.Fit, SkipBad: o.SkipBad, Warn: o.Warn})
	if err != nil {
		return nil, nil, err
	}
	name := filepath.Base(filepath.Clean(f.name))
	stream := f.stream || folder.Len() > datasets.MaxValues/folder.ExampleShape().Size()
	if !stream {
		train, err := datasets.Materialize(name, folder, o.SkipBad, o.Warn)
		if err != nil {
			return nil, nil, err
		}
		train, test, err := f.finish(train, nil, false)
		if err != nil {
			return nil, nil, err
		}
		return &trainSet{mem: train, src: train, name: train.Name}, test, nil
	}
	return f.streamFolder(name, folder, o)
}

// streamFolder makes the training set of a streamed image folder and
// reads the validation set (which must fit in memory).
func (f *dataFlags) streamFolder(name string, folder *datasets.ImageFolder, o datasets.Options) (*trainSet, *datasets.Dataset, error) {
	var src datasets.Source = folder
	var test *datasets.Dataset
	switch {
	case f.valData != "":
		vt, vtest, err := f.open(f.valData)
		if err != nil {
			return nil, nil, fmt.Errorf("--val-data: %w", err)
		}
		if vtest != nil {
			vt = vtest
		}
		if err := sameTask(folder, vt); err != nil {
			return nil, nil, fmt.Errorf("--val-data %s: %w", f.valData, err)
		}
		test = vt
	case f.valSplit > 0:
		tr, va, err := datasets.SplitIndices(folder.Len(), f.valSplit, f.splitSeed)
		if err != nil {
			return nil, nil, fmt.Errorf("--validation-split: datasets: %s: %w", name, err)
		}
		src = &datasets.Subset{Src: folder, Index: tr}
		if test, err = datasets.Materialize(name+"-val", &datasets.Subset{Src: folder, Index: va}, o.SkipBad, o.Warn); err != nil {
			return nil, nil, fmt.Errorf("--validation-split: %w", err)
		}
		name += "-train"
	default:
		return nil, nil, fmt.Errorf("streaming the image folder %s needs a held-out set that fits in memory: give --validation-split or --val-data", f.name)
	}
	if f.trainLimit > 0 && f.trainLimit < src.Len() {
		idx := make([]int, f.trainLimit)
		for i := range idx {
			idx[i] = i
		}
		src = &datasets.Subset{Src: src, Index: idx}
	}
	if f.testLimit > 0 && f.testLimit < test.Len() {
		test = test.Take(f.testLimit)
	}
	if p := f.model; p != nil {
		if strings.Join(p.ClassNames, "\x00") != strings.Join(folder.LabelNames(), "\x00") {
			fmt.Fprintf(os.Stderr, "note: the model was trained on the classes %s; %s has %s\n",
				shortList(p.ClassNames), name, shortList(folder.LabelNames()))
		}
		if !p.Identity() && src.ExampleShape().Equal(p.Input) {
			src = normalized{src, p}
			if test.X.Shape[1:].Equal(p.Input) {
				test = test.Clone()
				p.Normalize(test.X.Data)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "note: streaming %d images of %s from disk (%d loader workers)\n", src.Len(), f.name, f.workers)
	return &trainSet{src: src, name: name}, test, nil
}

// normalized is a Source whose examples are normalised as a model's
// recorded preprocessing says.
type normalized struct {
	datasets.Source
	p *datasets.Preprocessing
}

// Read reads example i and normalises it.
func (n normalized) Read(i int, dst []float32) error {
	if err := n.Source.Read(i, dst); err != nil {
		return err
	}
	n.p.Normalize(dst[:n.ExampleShape().Size()])
	return nil
}

// batches returns the loader that feeds training from train with the
// --augment augmentations drawn from seed, or nil when the examples are
// in memory and not augmented (Fit then reads them directly).
func (f *dataFlags) batches(train *trainSet, seed uint64) (*datasets.Loader, error) {
	aug, err := datasets.ParseAugment(f.augment, seed)
	if err != nil {
		return nil, fmt.Errorf("--augment: %w", err)
	}
	if aug == nil && train.mem != nil {
		return nil, nil
	}
	if err := aug.CheckShape(train.src.ExampleShape()); err != nil {
		return nil, fmt.Errorf("--augment: %s: %w", train.name, err)
	}
	return datasets.NewLoader(train.src, datasets.LoaderOptions{Workers: f.workers, Augment: aug})
}

// calibrationSet returns the first n training examples (at least one) in
// memory, for calibration.
func (t *trainSet) calibrationSet(n int) (x, y *tensor.Tensor, err error) {
	if t.mem != nil {
		return t.mem.X, t.mem.Y, nil
	}
	n = max(1, min(n, t.src.Len()))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	d, err := datasets.Materialize(t.name+"-calibration", &datasets.Subset{Src: t.src, Index: idx}, false, nil)
	if err != nil {
		return nil, nil, err
	}
	return d.X, d.Y, nil
}

// loaderNote prints how the loader kept up, if one was used.
func loaderNote(l *datasets.Loader) {
	if l == nil {
		return
	}
	st := l.Stats()
	fmt.Printf("Loader: %d batches, %d examples; training waited for %d batches after warm-up (%.2fs)\n",
		st.Batches, st.Examples, st.Empty, st.Wait.Seconds())
}

// fitBatches is the nn.Batches of a loader, or nil.
func fitBatches(l *datasets.Loader) nn.Batches {
	if l == nil {
		return nil
	}
	return l
}

// augmentNote says which augmentations train, for the run's first line.
func (f *dataFlags) augmentNote() string {
	a, err := datasets.ParseAugment(f.augment, 0)
	if err != nil || a == nil {
		return ""
	}
	return ", augment " + a.String()
}
