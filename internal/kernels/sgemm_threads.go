package kernels

// Multithreading of Sgemm: a call is cut into at most Threads() parts along
// m (or along n when m is short), at tile boundaries, never along k. Parts
// run on the persistent workers of internal/workers, so that a call neither
// spawns goroutines nor allocates.

// minWorkPerThread is the smallest number of multiply-adds (m*n*k) worth
// handing to another goroutine, about a microsecond of work on one core
// (with the workers' polling, a hand-off costs less than that when Sgemm
// is called back to back); smaller problems, below 2*minWorkPerThread in
// all, run on the calling goroutine alone.
const minWorkPerThread = 1 << 16

// Part computes the tiles [lo, hi) of C along the split dimension: rows of
// tiles, or columns of tiles when j.splitN (a workers.Job).
func (j *gemmJob) Part(_, lo, hi int) {
	if j.splitN {
		j.run(0, j.m, lo*j.tile, min(j.n, hi*j.tile))
	} else {
		j.run(lo*j.tile, min(j.m, hi*j.tile), 0, j.n)
	}
}

// parallel runs job j on up to Threads() goroutines, the caller's included.
func (j *gemmJob) parallel() {
	ks := j.ks
	mr, nr := ks.mr, ks.nr
	if j.rows {
		mr, nr = 1, ks.rw
	}
	mTiles := (j.m + mr - 1) / mr
	nTiles := (j.n + nr - 1) / nr
	work := j.m * j.n * j.k
	t := min(Threads(), max(1, work/minWorkPerThread))
	// Split m unless it has too few tiles to keep t goroutines busy and n
	// has more. The row kernel computes each row of C on its own, so its
	// rows split as well as its columns: n unless it has fewer column
	// blocks than m has rows (a product of a few rows and long k, such as
	// a first convolution's weight gradient, col^T x dOut).
	j.splitN = mTiles < 2*t && nTiles > mTiles
	if j.rows {
		j.splitN = nTiles >= t || nTiles >= mTiles
	}
	tiles := mTiles
	j.tile = mr
	if j.splitN {
		tiles, j.tile = nTiles, nr
	}
	t = min(t, tiles)
	if t <= 1 {
		j.run(0, j.m, 0, j.n)
		return
	}
	// Part i gets tiles [i*tiles/t, (i+1)*tiles/t); the caller takes part 0.
	for i := 1; i < t; i++ {
		j.parts.Go(j, i, i*tiles/t, (i+1)*tiles/t)
	}
	j.Part(0, 0, tiles/t)
	j.parts.Wait()
}
