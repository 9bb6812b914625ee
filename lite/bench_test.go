package lite_test

import (
	"context"
	"os"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
)

// BenchmarkMNISTCNN times the QAT model file GOQAT_QAT_FILE in float
// (fake-quant, inference mode) and its integer model at batch 1 and 64.
func BenchmarkMNISTCNN(b *testing.B) {
	f := os.Getenv("GOQAT_QAT_FILE")
	if f == "" {
		b.Skip("GOQAT_QAT_FILE not set")
	}
	qat, err := nn.Load(f)
	if err != nil {
		b.Fatal(err)
	}
	im, err := convert.Convert(qat)
	if err != nil {
		b.Fatal(err)
	}
	_, test, err := datasets.Load("mnist", "")
	if err != nil {
		b.Fatal(err)
	}
	for _, bs := range []int{1, 64} {
		x := test.X.Batch(0, bs)
		b.Run("qat-float/b"+itoa(bs), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := qat.Predict(context.Background(), x, bs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("int8/b"+itoa(bs), func(b *testing.B) {
			it, err := lite.NewInterpreter(im)
			if err != nil {
				b.Fatal(err)
			}
			if err := it.SetInput(0, x); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := it.Invoke(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
