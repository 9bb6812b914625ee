package bounds

import (
	"fmt"
	"math"
)

// Plan is a model's resource plan: the operations one sample takes, the
// bytes each sample of a batch needs (activations and per-sample scratch)
// and the bytes any batch needs (weights, packed weights, scratch sized by
// one sample's geometry), added up layer by layer with saturating
// arithmetic, so that a count too large to represent is refused, never
// wrapped. The loaders build one before anything runs (docs/RELIABILITY.md,
// Resource bounds).
type Plan struct {
	// Work is the operations per sample: multiply-adds, window taps
	// visited (padding included), values written.
	Work int64
	// PerSample is the bytes each sample of a batch needs.
	PerSample int64
	// Fixed is the bytes a batch of any size needs.
	Fixed int64
	// Scratch lists the buffers that grow with the batch up to a cap
	// (AddScratch).
	Scratch []Scratch

	workMax, bytesMax     int64  // the largest single layer's work and bytes at batch 1
	workLayer, bytesLayer string // and their names
}

// Scratch is a buffer that a batch of n samples needs
// min(n*PerSample, Cap) bytes of, from a batch of From samples on (none
// below it): an im2col buffer packed a chunk of images at a time.
type Scratch struct {
	PerSample, Cap int64
	From           int
}

// bytes is the buffer's bytes at a batch of n (a negative count
// saturates: the plan is then refused).
func (s Scratch) bytes(n int) int64 {
	switch {
	case s.PerSample < 0 || s.Cap < 0:
		return math.MaxInt64
	case n < max(s.From, 1):
		return 0
	}
	return min(SatMul(int64(n), s.PerSample), s.Cap)
}

// Add adds one layer's (or op's) work per sample, bytes per sample and
// fixed bytes (negative counts saturate: the plan is then refused).
func (p *Plan) Add(name string, work, perSample, fixed int64) {
	p.Work = SatAdd(p.Work, work)
	p.PerSample = SatAdd(p.PerSample, perSample)
	p.Fixed = SatAdd(p.Fixed, fixed)
	if w := SatAdd(work); w > p.workMax || p.workLayer == "" {
		p.workMax, p.workLayer = w, name
	}
	if b := SatAdd(perSample, fixed); b > p.bytesMax || p.bytesLayer == "" {
		p.bytesMax, p.bytesLayer = b, name
	}
}

// AddScratch adds one layer's (or op's) buffer that grows with the batch
// up to a cap (Scratch).
func (p *Plan) AddScratch(name string, s Scratch) {
	p.Scratch = append(p.Scratch, s)
	if b := s.bytes(1); b > p.bytesMax {
		p.bytesMax, p.bytesLayer = b, name
	}
}

// Bytes returns the bytes a batch of n samples needs, saturating.
func (p *Plan) Bytes(n int) int64 {
	b := SatAdd(p.Fixed, SatMul(int64(max(n, 0)), p.PerSample))
	for _, s := range p.Scratch {
		b = SatAdd(b, s.bytes(n))
	}
	return b
}

// MaxBatch returns the largest batch whose Bytes are at most MaxMemory
// (capped at math.MaxInt32), 0 if not even one sample fits.
func (p *Plan) MaxBatch() int {
	lim := MaxMemory()
	if p.Bytes(1) > lim {
		return 0
	}
	// Bytes grows with the batch: the largest n with Bytes(n) <= lim.
	lo, hi := 1, math.MaxInt32
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if p.Bytes(mid) <= lim {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Check returns an error naming what (the model) if one sample's work is
// over MaxWork or a batch of one is over MaxMemory.
func (p *Plan) Check(what string) error {
	if lim := MaxWork(); p.Work > lim {
		return fmt.Errorf("%s takes %s operations per sample (%s in layer %q), over the limit of %d (raise it with %s)",
			what, countString(p.Work), countString(p.workMax), p.workLayer, lim, EnvWork)
	}
	return p.CheckBatch(what, 1)
}

// CheckBatch returns an error naming what (the model) if a batch of n
// samples needs more than MaxMemory.
func (p *Plan) CheckBatch(what string, n int) error {
	if lim, b := MaxMemory(), p.Bytes(n); b > lim {
		return fmt.Errorf("%s needs %s of memory at batch %d (layer %q alone %s at batch 1), over the limit of %s "+
			"(raise it with --max-memory or %s)", what, FormatBytes(b), n, p.bytesLayer, FormatBytes(p.bytesMax), FormatBytes(lim), EnvMemory)
	}
	return nil
}

// FitBatch returns the largest batch, at most want, that fits in
// MaxMemory, or CheckBatch's error if not even one sample fits.
func (p *Plan) FitBatch(what string, want int) (int, error) {
	b := min(max(want, 1), p.MaxBatch())
	if b < 1 {
		return 0, p.CheckBatch(what, 1)
	}
	return b, nil
}

// countString prints an operation count: exact below 10^6, else in
// scientific notation; "more than 9.2e18" for a saturated count.
func countString(n int64) string {
	switch {
	case n == math.MaxInt64:
		return "more than 9.2e18"
	case n < 1e6:
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%.3g", float64(n))
}
