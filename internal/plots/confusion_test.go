package plots

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func TestConfusion(t *testing.T) {
	names := []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	c := len(names)
	r := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, c*c)
	for i := 0; i < c; i++ {
		counts[i*c+i] = 700 + r.IntN(300)
		for k := 0; k < 4; k++ {
			counts[i*c+r.IntN(c)] += r.IntN(60)
		}
	}
	p := filepath.Join(dir(t), "confusion.png")
	if err := Confusion(p, "mnist-cnn int8 on Fashion-MNIST test: confusion matrix", names, counts); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 800, 800)
	many := make([]string, 40)
	for i := range many {
		many[i] = string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	if err := Confusion(filepath.Join(dir(t), "confusion40.png"), "40 classes", many, make([]int, 40*40)); err != nil {
		t.Fatal(err)
	}
	if err := Confusion(p, "", nil, nil); err == nil {
		t.Error("no error for no classes")
	}
	if err := Confusion(p, "", names, counts[:5]); err == nil {
		t.Error("no error for counts of the wrong size")
	}
}
