package datasets_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// writeFolder writes 16 small PNGs per class into dir/<class>/: dark
// images with a light top half, and the reverse.
func writeFolder(dir string) error {
	for _, class := range []string{"top", "bottom"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			return err
		}
		for i := range 16 {
			m := image.NewGray(image.Rect(0, 0, 20, 20))
			for y := range 20 {
				for x := range 20 {
					v := uint8(20 + 3*((x+i)%5))
					if (y < 10) == (class == "top") {
						v = 230 - uint8(3*((y+i)%5))
					}
					m.SetGray(x, y, color.Gray{Y: v})
				}
			}
			f, err := os.Create(filepath.Join(dir, class, fmt.Sprintf("%02d.png", i)))
			if err != nil {
				return err
			}
			err = png.Encode(f, m)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Train a small CNN on a folder of images (one subfolder per class), fine
// tune it with quantization-aware training, convert it to an int8 model and
// classify one image file with the integer interpreter. Training reads the
// folder through a Loader: the images are decoded from disk and augmented
// (random crop, horizontal flip) in background goroutines, the same way for
// any number of workers.
func Example_imageFolder() {
	dir, err := os.MkdirTemp("", "goqat-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := writeFolder(dir); err != nil {
		log.Fatal(err)
	}

	// The folder, resized from 20x20 to 16x16 (center crop), read from
	// disk by a loader that augments each training image.
	folder, err := datasets.OpenImageFolder(dir, datasets.ImageFolderOptions{Height: 16, Width: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(folder.LabelNames(), folder.Len(), folder.ExampleShape())
	augment, err := datasets.ParseAugment("crop:2,flip", 1)
	if err != nil {
		log.Fatal(err)
	}
	loader, err := datasets.NewLoader(folder, datasets.LoaderOptions{Workers: 2, Augment: augment})
	if err != nil {
		log.Fatal(err)
	}

	// Float training, then QAT fine-tuning, both fed by the loader.
	fit := func(m *nn.Model, epochs int, lr float64) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr)}); err != nil {
			log.Fatal(err)
		}
		if _, err := m.Fit(context.Background(), nil, nil, nn.FitOptions{BatchSize: 8, Epochs: epochs, Seed: 1, Verbose: nn.VerboseSilent, Batches: loader}); err != nil {
			log.Fatal(err)
		}
	}
	names := folder.LabelNames()
	m, err := models.Build("mnist-cnn", folder.ExampleShape(), len(names), 1)
	if err != nil {
		log.Fatal(err)
	}
	fit(m, 3, 2e-3)
	qm, err := quantize.Model(m)
	if err != nil {
		log.Fatal(err)
	}
	fit(qm, 1, 2e-4)
	im, err := convert.Convert(qm)
	if err != nil {
		log.Fatal(err)
	}

	// Classify one file with the int8 model.
	raw, err := os.ReadFile(filepath.Join(dir, "bottom", "03.png"))
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.New(1, 16, 16, 1)
	if err := datasets.DecodeImage("03.png", raw, 16, 16, 1, datasets.FitCrop, 0, x.Data); err != nil {
		log.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		log.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		log.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		log.Fatal(err)
	}
	logits := it.Output(0).Data
	best := 0
	for k := range logits {
		if logits[k] > logits[best] {
			best = k
		}
	}
	fmt.Println("bottom/03.png is", names[best])
	// Output:
	// [bottom top] 32 (16, 16, 1)
	// bottom/03.png is bottom
}
