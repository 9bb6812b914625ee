package lite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// TestScoresContext checks that the batched scores are the whole batch's
// dequantized outputs, that their argmax gives Accuracy's count, and that
// cancellation and fn's errors stop it.
func TestScoresContext(t *testing.T) {
	im, x := ctxModel(t)
	y := tensor.New(16)
	for i := range y.Data {
		y.Data[i] = float32(i % 10)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	whole := it.Output(0)
	C := whole.Shape[1]
	right, seen := 0, 0
	err = lite.ScoresContext(context.Background(), im, x, 5, func(lo int, s *tensor.Tensor) error {
		if lo != seen || s.Shape[1] != C {
			t.Errorf("batch at %d after %d samples, shape %s", lo, seen, s.Shape)
		}
		for i := 0; i < s.Shape[0]; i++ {
			row := s.Data[i*C : (i+1)*C]
			best := 0
			for j, v := range row {
				if v != whole.Data[(lo+i)*C+j] {
					t.Fatalf("sample %d class %d: %v, whole batch %v", lo+i, j, v, whole.Data[(lo+i)*C+j])
				}
				if v > row[best] {
					best = j
				}
			}
			if best == int(y.Data[lo+i]) {
				right++
			}
		}
		seen += s.Shape[0]
		return nil
	})
	if err != nil || seen != 16 {
		t.Fatalf("ScoresContext: %v after %d samples", err, seen)
	}
	acc, err := lite.Accuracy(im, x, y, 16)
	if err != nil || acc != float64(right)/16 {
		t.Errorf("Accuracy %v (%v), argmax of the scores %v", acc, err, float64(right)/16)
	}
	stop := errors.New("stop")
	if err := lite.ScoresContext(context.Background(), im, x, 4, func(int, *tensor.Tensor) error { return stop }); err != stop {
		t.Errorf("fn's error: %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lite.ScoresContext(cancelled, im, x, 4, func(int, *tensor.Tensor) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if err := lite.ScoresContext(context.Background(), im, tensor.New(0, 28, 28, 1), 4, nil); err == nil {
		t.Errorf("no inputs: no error")
	}
}
