package datasets

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Source is a labelled classification set read example by example: an
// in-memory *Dataset, or an ImageFolder that decodes each file when asked.
// Its length, labels and class names are known without reading examples.
// Read must be safe to call from several goroutines at once.
type Source interface {
	// Len is the number of examples.
	Len() int
	// ExampleShape is the shape of one example: (H,W,C) for images, (F)
	// for feature vectors.
	ExampleShape() tensor.Shape
	// LabelNames names the classes, index i for label i.
	LabelNames() []string
	// Label is example i's class index, in [0, len(LabelNames())).
	Label(i int) int
	// Read writes example i into dst, which holds ExampleShape().Size()
	// values. An error names what could not be read (e.g. the file).
	Read(i int, dst []float32) error
}

// ExampleShape is the shape of one example, X's shape without N.
func (d *Dataset) ExampleShape() tensor.Shape { return d.X.Shape[1:].Clone() }

// LabelNames returns d.ClassNames.
func (d *Dataset) LabelNames() []string { return d.ClassNames }

// Label is example i's class index.
func (d *Dataset) Label(i int) int { return int(d.Y.Data[i]) }

// Read copies example i into dst.
func (d *Dataset) Read(i int, dst []float32) error {
	if i < 0 || i >= d.Len() {
		return fmt.Errorf("datasets: %s: example %d of %d", d.Name, i, d.Len())
	}
	sz := d.X.Shape[1:].Size()
	copy(dst[:sz], d.X.Data[i*sz:(i+1)*sz])
	return nil
}

// MaxValues bounds the float32 values a Dataset built by Materialize, CSV,
// NumPy or CIFAR may hold (4 GiB): a larger set is refused before it is
// allocated.
const MaxValues = 1 << 30

// Materialize reads every example of src into a Dataset named name, reading
// examples concurrently (threads.N() goroutines). If skipBad, an example
// whose Read fails is left out and reported to warn (if not nil) instead of
// failing the whole set; with every example bad it is still an error.
//
//	src (N examples of shape S) -> X (N',S...) float32, Y (N') labels
func Materialize(name string, src Source, skipBad bool, warn func(error)) (*Dataset, error) {
	n, shape := src.Len(), src.ExampleShape()
	sz := shape.Size()
	if sz < 1 {
		return nil, fmt.Errorf("datasets: %s: examples of shape %v hold no values", name, shape)
	}
	if n > MaxValues/sz {
		return nil, fmt.Errorf("datasets: %s: %d examples of shape %v are more than %d values", name, n, shape, MaxValues)
	}
	x := make([]float32, n*sz)
	errs := make([]error, n)
	var mu sync.Mutex
	failed := 0
	kernels.ParallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if errs[i] = src.Read(i, x[i*sz:(i+1)*sz]); errs[i] != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}
	})
	if failed > 0 && !skipBad {
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	kept := 0
	y := make([]float32, 0, n-failed)
	for i, err := range errs {
		if err != nil {
			if warn != nil {
				warn(err)
			}
			continue
		}
		if kept != i {
			copy(x[kept*sz:(kept+1)*sz], x[i*sz:(i+1)*sz])
		}
		y = append(y, float32(src.Label(i)))
		kept++
	}
	if kept == 0 && n > 0 {
		return nil, fmt.Errorf("datasets: %s: none of the %d examples could be read", name, n)
	}
	names := append([]string(nil), src.LabelNames()...)
	return &Dataset{
		Name:       name,
		X:          &tensor.Tensor{Shape: append(tensor.Shape{kept}, shape...), Data: x[:kept*sz]},
		Y:          &tensor.Tensor{Shape: tensor.Shape{kept}, Data: y},
		Classes:    len(names),
		ClassNames: names,
	}, nil
}

// Split shuffles d's examples with seed and splits them: the validation set
// holds round(fraction*N) of them (at least one), the training set the rest
// (at least one). The same seed gives the same split. fraction must be in
// (0, 1). The results are copies named "<name>-train" and "<name>-val".
func Split(d *Dataset, fraction float64, seed uint64) (train, val *Dataset, err error) {
	tr, va, err := SplitIndices(d.Len(), fraction, seed)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %s: %w", d.Name, err)
	}
	return d.pick(d.Name+"-train", tr), d.pick(d.Name+"-val", va), nil
}

// SplitIndices is Split's choice of examples of a set of n: the indices of
// the training and of the validation examples, in shuffled order. A Source
// split with Subset and these indices holds the examples Split gives.
func SplitIndices(n int, fraction float64, seed uint64) (train, val []int, err error) {
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("validation split %v must be in (0, 1)", fraction)
	}
	nv := int(fraction*float64(n) + 0.5)
	nv = max(nv, 1)
	if n < 2 || nv >= n {
		return nil, nil, fmt.Errorf("cannot split %d examples by %v: each side needs at least one", n, fraction)
	}
	perm := rand.New(rand.NewPCG(seed, 0x5eed5b11)).Perm(n)
	return perm[nv:], perm[:nv], nil
}

// Subset is a Source of some of another Source's examples: example i is
// Src's example Index[i].
type Subset struct {
	Src   Source
	Index []int
}

// Len is len(s.Index).
func (s *Subset) Len() int { return len(s.Index) }

// ExampleShape is Src's.
func (s *Subset) ExampleShape() tensor.Shape { return s.Src.ExampleShape() }

// LabelNames are Src's.
func (s *Subset) LabelNames() []string { return s.Src.LabelNames() }

// Label is the label of Src's example Index[i].
func (s *Subset) Label(i int) int { return s.Src.Label(s.Index[i]) }

// Read reads Src's example Index[i].
func (s *Subset) Read(i int, dst []float32) error {
	if i < 0 || i >= len(s.Index) {
		return fmt.Errorf("datasets: example %d of %d", i, len(s.Index))
	}
	return s.Src.Read(s.Index[i], dst)
}

// pick returns a copy of the examples idx, in that order.
func (d *Dataset) pick(name string, idx []int) *Dataset {
	sz := d.X.Shape[1:].Size()
	x := make([]float32, len(idx)*sz)
	y := make([]float32, len(idx))
	for k, i := range idx {
		copy(x[k*sz:(k+1)*sz], d.X.Data[i*sz:(i+1)*sz])
		y[k] = d.Y.Data[i]
	}
	return &Dataset{
		Name:       name,
		X:          &tensor.Tensor{Shape: append(tensor.Shape{len(idx)}, d.X.Shape[1:]...), Data: x},
		Y:          &tensor.Tensor{Shape: tensor.Shape{len(idx)}, Data: y},
		Classes:    d.Classes,
		ClassNames: append([]string(nil), d.ClassNames...),
	}
}
