package workers

// Parts returns the number of parts For(t, n, grain, ...) splits [0, n)
// into at most (t < 1: N()): t, or fewer so that each part has grain units
// or more, at least 1.
func Parts(t, n, grain int) int {
	if t < 1 {
		t = N()
	}
	return max(1, min(t, n/max(1, grain)))
}

// For runs job over [0, n) in at most Parts(t, n, grain) contiguous parts,
// numbered from 0 in order: part 0, the first and largest, on the calling
// goroutine, the others on the workers, counted in g; it returns when all
// are done. Each part but the last has ceil(n/Parts) units. A range too
// small to split runs inline as part 0. Give each part its own scratch
// (indexed by part) and results that do not depend on the split.
func For(t, n, grain int, job Job, g *Group) {
	p := Parts(t, n, grain)
	if p <= 1 {
		if n > 0 {
			job.Part(0, 0, n)
		}
		return
	}
	per := (n + p - 1) / p
	for i, lo := 1, per; lo < n; i, lo = i+1, lo+per {
		g.Go(job, i, lo, min(lo+per, n))
	}
	job.Part(0, 0, per)
	g.Wait()
}

// Runner is For with its own Group: keep one per user (an operator of an
// interpreter, say) so that its loops do not allocate. It is not safe for
// concurrent For calls.
type Runner struct {
	// Threads caps the parts of For; 0 means N() at each call. Work that
	// already runs on a worker (one share of a batch) sets it to 1, so
	// that it does not hand parts off again.
	Threads int
	g       Group
}

// For runs fn over [0, n) as For(r.Threads, n, grain, fn) does: at most
// r.Parts(n, grain) parts, numbered from 0, of at least grain units but
// maybe the last.
func (r *Runner) For(n, grain int, fn func(part, lo, hi int)) {
	For(r.Threads, n, grain, Func(fn), &r.g)
}

// Parts returns the number of parts For(n, grain, ...) uses at most at the
// current thread count.
func (r *Runner) Parts(n, grain int) int { return Parts(r.Threads, n, grain) }
