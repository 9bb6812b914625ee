package datasets

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchFolder writes n RGB images of side x side per class (2 classes)
// into a new folder under b's temporary directory: smooth gradients with
// noise, as PNG or JPEG (quality 90).
func benchFolder(b *testing.B, n, side int, asJPEG bool) string {
	b.Helper()
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	for _, class := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range n {
			m := image.NewNRGBA(image.Rect(0, 0, side, side))
			for y := range side {
				for x := range side {
					v := uint8((x*255/side + r.IntN(40)) % 256)
					m.SetNRGBA(x, y, color.NRGBA{R: v, G: uint8(y * 255 / side), B: uint8(r.IntN(256)), A: 255})
				}
			}
			ext := ".png"
			if asJPEG {
				ext = ".jpg"
			}
			f, err := os.Create(filepath.Join(dir, class, fmt.Sprintf("%04d%s", i, ext)))
			if err != nil {
				b.Fatal(err)
			}
			if asJPEG {
				err = jpeg.Encode(f, m, &jpeg.Options{Quality: 90})
			} else {
				err = png.Encode(f, m)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return dir
}

// BenchmarkLoader measures the loader's throughput, decoding and augmenting
// an image folder streamed from disk into batches of 32 as fast as it can
// (the consumer takes each batch at once): 32x32 PNG with crop:4,flip and
// 224x224 JPEG with resized-crop,flip, with 1 and 2 workers. One
// iteration is one epoch; images/s is the metric to compare with a
// training step's consumption (docs/BENCHMARKS.md, Data loading).
func BenchmarkLoader(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, side int
		jpeg    bool
		augment string
	}{
		{"png32", 256, 32, false, "crop:4,flip"},
		{"jpeg224", 32, 224, true, "resized-crop,flip"},
	} {
		dir := benchFolder(b, c.n, c.side, c.jpeg)
		folder, err := OpenImageFolder(dir, ImageFolderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		aug, err := ParseAugment(c.augment, 1)
		if err != nil {
			b.Fatal(err)
		}
		order := make([]int, folder.Len())
		for i := range order {
			order[i] = i
		}
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(b *testing.B) {
				l, err := NewLoader(folder, LoaderOptions{Workers: workers, Augment: aug})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for i := 0; b.Loop(); i++ {
					if err := l.StartEpoch(context.Background(), i, order, 32, 0); err != nil {
						b.Fatal(err)
					}
					for range (len(order) + 31) / 32 {
						if _, _, err := l.Next(); err != nil {
							b.Fatal(err)
						}
					}
					l.Stop()
				}
				st := l.Stats()
				b.ReportMetric(float64(st.Examples)/time.Since(start).Seconds(), "images/s")
			})
		}
	}
}
