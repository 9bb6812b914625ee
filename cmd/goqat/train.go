package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
	"github.com/goqat/goqat/threads"
	"github.com/spf13/cobra"
)

// trainConfig is what a float training run needs.
type trainConfig struct {
	model   string
	epochs  int
	batch   int
	lr      float64
	seed    uint64
	verbose int
	ckpt    checkpointFlags // checkpoints, resume and clipping (zero: none)
	hidden  []int           // mlp's hidden layer widths (nil: its default)
	cb      callbackFlags   // Keras callbacks and class weights (zero: none)
	// callbacks and classWeight are what cb asks for, built once the data
	// is loaded (nil: none).
	callbacks   []nn.Callback
	classWeight map[int]float64
	dist        distFlags // --distributed (docs/distributed.md)
}

// verbosity maps --verbose (0 silent, 1 progress bar, 2 one line per
// epoch) to nn's levels, whose zero value is a progress bar.
func verbosity(v int) (int, error) {
	switch v {
	case 0:
		return nn.VerboseSilent, nil
	case 1:
		return nn.VerboseBar, nil
	case 2:
		return nn.VerboseEpoch, nil
	}
	return 0, fmt.Errorf("--verbose %d: want 0 (silent), 1 (progress bar) or 2 (one line per epoch)", v)
}

// validate rejects impossible settings with one clear line.
func (c *trainConfig) validate() error {
	switch {
	case c.epochs < 1:
		return fmt.Errorf("--epochs must be at least 1, got %d", c.epochs)
	case c.batch < 1:
		return fmt.Errorf("--batch must be at least 1, got %d", c.batch)
	case !(c.lr > 0):
		return fmt.Errorf("--lr must be positive, got %g", c.lr)
	}
	if err := c.cb.validate(); err != nil {
		return err
	}
	return c.ckpt.validate()
}

// buildModel makes the named built-in model for the dataset's examples
// (mlp with the given hidden widths, if any).
func buildModel(name string, train datasets.Source, seed uint64, hidden ...int) (*nn.Model, error) {
	classes := len(train.LabelNames())
	if d, ok := train.(*datasets.Dataset); ok {
		classes = d.Classes
	}
	return models.BuildWith(name, train.ExampleShape(), classes, seed, models.Options{Hidden: hidden})
}

// fitFloat trains m on train (validating on test) with Adam and a cosine
// learning-rate decay over the whole run, with the checkpoint, resume and
// clipping settings of c.ckpt. With a loader (augmentation, or an image
// folder streamed from disk) the batches come from it.
func fitFloat(ctx context.Context, m *nn.Model, train *trainSet, test *datasets.Dataset, loader *datasets.Loader, c trainConfig) (*nn.History, error) {
	steps := c.epochs * ((train.Len() + c.batch - 1) / c.batch)
	opt := optim.NewAdam(c.lr)
	opt.LR = optim.Cosine{Base: c.lr, Steps: steps, Min: c.lr / 50}
	if err := m.Compile(nn.CompileOptions{
		Loss:      nn.SparseCategoricalCrossentropy{FromLogits: true},
		Optimizer: opt,
		Metrics:   []string{"accuracy"},
	}); err != nil {
		return nil, err
	}
	o := nn.FitOptions{
		BatchSize:   c.batch,
		Epochs:      c.epochs,
		Seed:        c.seed,
		ValidationX: test.X,
		ValidationY: test.Y,
		Verbose:     c.verbose,
		Batches:     fitBatches(loader),
		Callbacks:   c.callbacks,
		ClassWeight: c.classWeight,
	}
	resuming, err := c.ckpt.apply(&o)
	if err != nil {
		return nil, err
	}
	if err := c.dist.apply(&o); err != nil {
		return nil, err
	}
	if resuming != "" {
		fmt.Println(resuming)
	}
	var x, y *tensor.Tensor
	if loader == nil {
		x, y = train.mem.X, train.mem.Y
	}
	return m.Fit(ctx, x, y, o)
}

func newTrainCmd() *cobra.Command {
	var (
		c        trainConfig
		df       dataFlags
		out      string
		nThreads int
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a built-in float model",
		Long: `train trains a built-in float model with Adam and a cosine learning-rate
decay, validating on the test set after each epoch, and saves it.

With --checkpoint-dir it keeps a checkpoint there (weights, optimizer state,
position and history; replaced atomically) at each epoch end, every
--checkpoint-every steps and when interrupted by SIGINT or SIGTERM (exit code
130 or 143). Rerun the same command with --resume to continue: the final
weights are bit-identical to those of an uninterrupted run. A NaN or infinite
loss or gradient stops training with an error naming the step and the
parameter; the last checkpoint is kept.

Keras callbacks, all on the validation loss after each epoch:
--early-stopping N stops after N epochs without improvement and puts the best
epoch's weights back (--out then holds them); --checkpoint-best FILE saves
the model (atomically) whenever the validation loss improves;
--reduce-lr-on-plateau multiplies the learning rate (the cosine schedule
scaled down) by --plateau-factor after --plateau-patience epochs without
improvement; --csv-log FILE writes one row per epoch (epoch, accuracy,
learning_rate, loss, val_accuracy, val_loss; with --resume it appends).
Their state is not in the checkpoint: a resumed run starts them afresh.
--class-weight balanced (n / (classes * count)) or 0:1,1:5 weights each
training example's loss by its class, as Keras's class_weight.`,
		Example: `  goqat train --model mnist-cnn --data mnist --epochs 2 --out float.safetensors
  goqat train --model mobilenet-tiny --data fashion --epochs 5
  goqat train --epochs 5 --checkpoint-dir ckpt --checkpoint-every 100
  goqat train --epochs 5 --checkpoint-dir ckpt --checkpoint-every 100 --resume
  goqat train --epochs 30 --early-stopping 3 --checkpoint-best best.safetensors --reduce-lr-on-plateau --csv-log log.csv
  goqat train --data ./photos --input 32x32 --validation-split 0.1 --class-weight balanced
  goqat train --model resnet20 --data ./photos --input 32x32 --validation-split 0.1 --augment crop:4,flip
  goqat train --model resnet20 --data ./big-folder --input 64x64 --stream --validation-split 0.05`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			var err error
			if c.verbose, err = verbosity(c.verbose); err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("--out must name the file to save the model in")
			}
			inputs := append(df.inputs(), c.ckpt.input()...)
			if err := checkPaths(inputs, append([]pathArg{{"--out", out}}, c.cb.outputs()...)); err != nil {
				return err
			}
			if nThreads > 0 {
				threads.Set(nThreads)
			}
			stop, err := c.dist.start()
			if err != nil {
				return err
			}
			defer stop()
			train, test, err := df.loadTrain()
			if err != nil {
				return err
			}
			m, err := buildModel(c.model, train.src, c.seed, c.hidden...)
			if err != nil {
				return err
			}
			loader, err := df.batches(train, c.seed)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Training %s on %s: %d train, %d test images, %d epochs, batch %d, %d threads%s\n",
				c.model, train.name, train.Len(), test.Len(), c.epochs, c.batch, threads.N(), df.augmentNote())
			if c.classWeight, err = c.cb.classWeights(train.src); err != nil {
				return err
			}
			var es *nn.EarlyStopping
			c.callbacks, es = c.cb.callbacks(inputs, c.ckpt.resume, func(p string, m *nn.Model) error { return df.saveModel(p, m, train.src) })
			start := time.Now()
			ctx := cmd.Context()
			h, err := fitFloat(ctx, m, train, test, loader, c)
			if err := exitOnSignal(caughtSignal(), err, c.ckpt); err != nil {
				return err
			}
			loaderNote(loader)
			last := len(h.ValAccuracy) - 1
			if es != nil && es.StoppedEpoch() >= 0 {
				fmt.Printf("Early stopping after epoch %d: no better validation loss for %d epochs\n", es.StoppedEpoch()+1, es.Patience)
			}
			if es != nil && es.BestEpoch() >= 0 && es.BestEpoch() != last {
				last = es.BestEpoch()
				fmt.Printf("Kept the weights of epoch %d (validation loss %.4f)\n", last+1, h.ValLoss[last])
			}
			fmt.Printf("Test accuracy %.2f%% after %d epochs (%.1fs)\n", 100*h.ValAccuracy[last], len(h.Epoch), time.Since(start).Seconds())
			if !c.dist.writer() {
				return nil
			}
			if err := saveWith("--out", out, func(p string) error { return df.saveModel(p, m, train.src) }); err != nil {
				return err
			}
			fmt.Printf("Saved %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.model, "model", "mnist-cnn", "built-in model: "+strings.Join(models.AllNames(), ", ")+" (the real networks need inputs of at least 32x32)")
	f.IntVar(&c.epochs, "epochs", 2, "training epochs")
	f.IntVar(&c.batch, "batch", 128, "batch size")
	f.Float64Var(&c.lr, "lr", 2e-3, "peak learning rate (Adam, cosine decay)")
	f.Uint64Var(&c.seed, "seed", 1, "seed for weights, shuffling and dropout")
	f.IntVar(&c.verbose, "verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")
	f.StringVar(&out, "out", "float.safetensors", "where to save the trained model")
	f.IntVar(&nThreads, "threads", 0, "compute threads (0: "+threads.Env+" if set, else all cores)")
	f.IntSliceVar(&c.hidden, "hidden", nil, "hidden layer widths of --model mlp, e.g. 64,64 (default 64,64)")
	addDataFlags(f, &df)
	addTrainDataFlags(f, &df)
	addCheckpointFlags(f, &c.ckpt)
	addCallbackFlags(f, &c.cb)
	addDistributedFlags(f, &c.dist)
	return cmd
}
