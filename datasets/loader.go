package datasets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goqat/goqat/tensor"
)

// LoaderOptions configures NewLoader. The zero value reads with 2 workers,
// 4 batches ahead, without augmentation.
type LoaderOptions struct {
	// Workers is the number of goroutines that read (decode) and augment
	// batches (0 means 2). The batches are the same for any number.
	Workers int
	// Prefetch is the number of batches held at once: the one training
	// uses and those prepared ahead of it (0 means 2*Workers, at least 2).
	// Memory is Prefetch batches, whatever the size of the data set.
	Prefetch int
	// Augment, if not nil, augments every example (images only).
	Augment *Augment
}

// LoaderStats counts what a Loader did, for benchmarks and tests.
type LoaderStats struct {
	// Batches is the number of batches handed out.
	Batches int64
	// Examples is the number of examples read.
	Examples int64
	// Empty counts the batches training had to wait for after warm-up
	// (every batch of an epoch but the first Workers ones, which start
	// together): the prefetch queue was empty when asked. Zero means the
	// loader kept up.
	Empty int64
	// Wait is the time training waited for batches after warm-up.
	Wait time.Duration
}

// Loader reads a Source's examples in batches, in the order training asks
// for (nn.FitOptions.Batches), in background goroutines that decode and
// augment up to Prefetch batches ahead. Batch k of an epoch is always the
// examples order[k*b:(k+1)*b], each augmented from (Augment.Seed, epoch,
// example index), so the batches are the same for any number of workers and
// any timing. Only the Source and the prefetch buffers are held: an
// ImageFolder is streamed from disk.
type Loader struct {
	src     Source
	o       LoaderOptions
	shape   tensor.Shape // one example
	size    int          // values per example
	nLabels int

	// The epoch in progress (StartEpoch to Stop).
	slots   []*loaderSlot
	next    int // the batch Next returns
	from    int // the epoch's first batch
	steps   int
	held    *loaderSlot // the batch last returned, freed by the next call
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running bool

	batches, examples, empty, waitNs atomic.Int64
}

// loaderSlot is one prefetch buffer: batch k of the epoch, filled by a
// worker; done receives the worker's result, free is signalled when
// training has finished with the batch.
type loaderSlot struct {
	x, y    tensor.Tensor
	k       int
	done    chan error    // the worker's result (buffered: never blocks)
	free    chan struct{} // the slot may be refilled (buffered)
	scratch []float32
}

// NewLoader prepares a loader over src. Augmentation, if any, must apply
// to src's examples.
func NewLoader(src Source, o LoaderOptions) (*Loader, error) {
	if src == nil || src.Len() < 1 {
		return nil, errors.New("datasets: loader: no examples")
	}
	if o.Workers < 0 || o.Prefetch < 0 {
		return nil, fmt.Errorf("datasets: loader: %d workers and %d batches ahead must not be negative", o.Workers, o.Prefetch)
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.Prefetch == 0 {
		o.Prefetch = 2 * o.Workers
	}
	o.Prefetch = max(o.Prefetch, 2)
	shape := src.ExampleShape()
	if err := o.Augment.CheckShape(shape); err != nil {
		return nil, err
	}
	return &Loader{src: src, o: o, shape: shape, size: shape.Size(), nLabels: len(src.LabelNames())}, nil
}

// Len is the number of examples.
func (l *Loader) Len() int { return l.src.Len() }

// ExampleShape is the shape of one example.
func (l *Loader) ExampleShape() tensor.Shape { return l.shape.Clone() }

// Stats returns the counters so far.
func (l *Loader) Stats() LoaderStats {
	return LoaderStats{Batches: l.batches.Load(), Examples: l.examples.Load(),
		Empty: l.empty.Load(), Wait: time.Duration(l.waitNs.Load())}
}

// StartEpoch begins preparing epoch's batches, of batch examples each (the
// last one the rest), in order: Next then returns batches from, from+1, ...
// of order (the epoch's example indices, copied). An epoch in progress is
// stopped first. Cancelling ctx stops the workers; Next then returns its
// error.
func (l *Loader) StartEpoch(ctx context.Context, epoch int, order []int, batch, from int) error {
	l.Stop()
	if batch < 1 {
		return fmt.Errorf("datasets: loader: batch size %d", batch)
	}
	n := l.src.Len()
	for _, i := range order {
		if i < 0 || i >= n {
			return fmt.Errorf("datasets: loader: example %d of %d", i, n)
		}
	}
	order = append([]int(nil), order...)
	l.steps = (len(order) + batch - 1) / batch
	if from < 0 || from > l.steps {
		return fmt.Errorf("datasets: loader: batch %d of %d", from, l.steps)
	}
	l.from, l.next, l.held = from, from, nil
	if ctx == nil {
		ctx = context.Background()
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	if len(l.slots) != l.o.Prefetch {
		l.slots = make([]*loaderSlot, l.o.Prefetch)
		for i := range l.slots {
			l.slots[i] = &loaderSlot{}
		}
	}
	for _, s := range l.slots {
		s.done, s.free = make(chan error, 1), make(chan struct{}, 1)
		s.free <- struct{}{}
	}
	slots := l.slots
	jobs := make(chan *loaderSlot)
	ctxDone := l.ctx.Done()
	l.running = true
	l.wg.Add(1 + l.o.Workers)
	go func() { // the dispatcher: batch k into slot k-from mod Prefetch, in order
		defer l.wg.Done()
		defer close(jobs)
		for k := from; k < l.steps; k++ {
			s := slots[(k-from)%len(slots)]
			select {
			case <-s.free:
			case <-ctxDone:
				return
			}
			s.k = k
			select {
			case jobs <- s:
			case <-ctxDone:
				return
			}
		}
	}()
	for range l.o.Workers {
		go func() {
			defer l.wg.Done()
			for s := range jobs {
				lo, hi := s.k*batch, min(len(order), (s.k+1)*batch)
				s.done <- l.fill(s, epoch, order[lo:hi], ctxDone)
			}
		}()
	}
	return nil
}

// fill reads, augments and labels the examples idx into s.
func (l *Loader) fill(s *loaderSlot, epoch int, idx []int, stop <-chan struct{}) error {
	b := len(idx)
	if cap(s.x.Data) < b*l.size {
		s.x.Data = make([]float32, b*l.size)
	}
	if cap(s.y.Data) < b {
		s.y.Data = make([]float32, b)
	}
	s.x.Data, s.y.Data = s.x.Data[:b*l.size], s.y.Data[:b]
	s.x.Shape = append(append(s.x.Shape[:0], b), l.shape...)
	s.y.Shape = append(s.y.Shape[:0], b)
	h, w, c := 0, 0, 0
	if len(l.shape) == 3 {
		h, w, c = l.shape[0], l.shape[1], l.shape[2]
	}
	for j, i := range idx {
		select {
		case <-stop:
			return context.Canceled
		default:
		}
		dst := s.x.Data[j*l.size : (j+1)*l.size]
		if err := l.src.Read(i, dst); err != nil {
			return err
		}
		if l.o.Augment != nil {
			l.o.Augment.Apply(dst, h, w, c, epoch, i, &s.scratch)
		}
		label := l.src.Label(i)
		if label < 0 || label >= l.nLabels {
			return fmt.Errorf("datasets: loader: example %d has label %d of %d classes", i, label, l.nLabels)
		}
		s.y.Data[j] = float32(label)
		l.examples.Add(1)
	}
	return nil
}

// Next returns the epoch's next batch: samples (b, example shape...) and
// labels (b) class indices, valid until the next call of Next or Stop. It
// waits for the batch if it is not ready (counted in Stats after the
// epoch's first Workers batches).
func (l *Loader) Next() (x, y *tensor.Tensor, err error) {
	if !l.running {
		return nil, nil, errors.New("datasets: loader: Next outside an epoch (call StartEpoch)")
	}
	if l.next >= l.steps {
		return nil, nil, fmt.Errorf("datasets: loader: batch %d of %d", l.next, l.steps)
	}
	if l.held != nil {
		l.held.free <- struct{}{} // buffered, and taken since: never blocks
		l.held = nil
	}
	s := l.slots[(l.next-l.from)%len(l.slots)]
	var res error
	select {
	case res = <-s.done:
	default:
		start := time.Now()
		select {
		case res = <-s.done:
		case <-l.ctx.Done():
			return nil, nil, l.ctx.Err()
		}
		if l.next-l.from >= l.o.Workers {
			l.empty.Add(1)
			l.waitNs.Add(int64(time.Since(start)))
		}
	}
	if res != nil {
		if err := l.ctx.Err(); err != nil {
			return nil, nil, err
		}
		return nil, nil, res
	}
	l.next++
	l.held = s
	l.batches.Add(1)
	return &s.x, &s.y, nil
}

// Stop ends the epoch in progress: its goroutines are stopped and waited
// for. It may be called any number of times.
func (l *Loader) Stop() {
	if !l.running {
		return
	}
	l.cancel()
	l.wg.Wait()
	l.running, l.held = false, nil
}
