package distributed

import (
	"fmt"
	"sync"
)

// group is an in-process job of n ranks (goroutines) for tests: its
// collectives gather every rank's vector and reduce as the MPI
// communicator does (sumRanks), so a test can run the data-parallel code
// paths without mpirun.
type group struct {
	n     int
	mu    sync.Mutex
	cond  *sync.Cond
	gen   int
	count int
	slots [][]float64 // each rank's contribution to the current collective
	done  [][]float64 // the slots of the last completed exchange
}

// newGroup returns the communicators of an n-rank in-process job.
func newGroup(n int) []Comm {
	g := &group{n: n, slots: make([][]float64, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &member{g: g, r: r}
	}
	return cs
}

// exchange deposits rank r's vector and returns every rank's, once all
// ranks have deposited theirs.
func (g *group) exchange(r int, v []float64) [][]float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.slots[r] = v
	g.count++
	if g.count == g.n {
		g.count = 0
		g.gen++
		g.done = append([][]float64(nil), g.slots...)
		g.cond.Broadcast()
	} else {
		for gen == g.gen {
			g.cond.Wait()
		}
	}
	return g.done
}

// member is rank r of a group.
type member struct {
	g *group
	r int
}

func (m *member) Rank() int { return m.r }
func (m *member) Size() int { return m.g.n }

func (m *member) AllreduceSum(v []float32) error {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x) // exact: float32 values fit in float64
	}
	all := m.gather(w)
	flat := make([]float32, 0, len(all)*len(v))
	for _, a := range all {
		for _, x := range a {
			flat = append(flat, float32(x))
		}
	}
	sumRanks(v, flat)
	return nil
}

func (m *member) AllreduceSum64(v []float64) error {
	all := m.gather(append([]float64(nil), v...))
	flat := make([]float64, 0, len(all)*len(v))
	for _, a := range all {
		flat = append(flat, a...)
	}
	sumRanks(v, flat)
	return nil
}

// ChainSum passes v from rank to rank, in pieces of groupPiece values
// (fewer than ChainPiece, so that tests cross piece boundaries).
func (m *member) ChainSum(v []float32, add func([]float32, int, bool)) error {
	var cur []float64 // the previous rank's partial sum
	for i := 0; i < m.g.n; i++ {
		var mine []float64
		if m.r == i {
			if i > 0 {
				for j := range v {
					v[j] = float32(cur[j])
				}
			}
			for lo := 0; lo < len(v); lo += groupPiece {
				add(v[lo:min(len(v), lo+groupPiece)], lo, i == 0)
			}
			mine = make([]float64, len(v))
			for j, x := range v {
				mine[j] = float64(x)
			}
		}
		cur = m.gather(mine)[i]
	}
	for j := range v {
		v[j] = float32(cur[j])
	}
	return nil
}

// groupPiece is the piece size of the group's ChainSum.
const groupPiece = 5

func (m *member) Allgather(dst, v []float32) error {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	all := m.gather(w)
	dst = dst[:0]
	for _, a := range all {
		for _, x := range a {
			dst = append(dst, float32(x))
		}
	}
	return nil
}

func (m *member) Allgather64(dst, v []float64) error {
	all := m.gather(append([]float64(nil), v...))
	dst = dst[:0]
	for _, a := range all {
		dst = append(dst, a...)
	}
	return nil
}

func (m *member) Broadcast(root int, v []float32) error {
	if root < 0 || root >= m.g.n {
		return fmt.Errorf("broadcast from rank %d of %d", root, m.g.n)
	}
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	all := m.gather(w)
	for i, x := range all[root] {
		v[i] = float32(x)
	}
	return nil
}

func (m *member) Barrier() error { m.gather(nil); return nil }
func (m *member) Close() error   { return nil }

// gather exchanges v, then exchanges nothing so that no rank starts the
// next collective before every rank has its result.
func (m *member) gather(v []float64) [][]float64 {
	all := m.g.exchange(m.r, v)
	m.g.exchange(m.r, nil)
	return all
}
