package distributed

// chainStep is what one rank does at one step of ChainSum's schedule:
// send the partial sum of piece sendPart to rank next and receive that of
// piece recvPart from rank prev; send the final sum of piece sendSum to
// rank prev and receive that of piece recvSum from rank next (-1: no
// piece; next and prev are -1 at the ends of the chain); then add its
// contribution to piece add (-1: none), as the first contribution on
// rank 0.
type chainStep struct {
	next, prev                           int
	sendPart, recvPart, sendSum, recvSum int
	add                                  int
}

// chainSteps runs the schedule of ChainSum on rank r of n (n >= 2) for a
// vector of m values in pieces of ChainPiece (P pieces), calling step for
// each step t = 0 .. P+2n-3:
//
//   - partial sums travel up the chain: rank 0 starts piece t (its
//     contribution) at step t; rank r > 0 receives the partial sum of
//     piece t-r from rank r-1 at step t and adds its own; rank r < n-1
//     sends piece t-r-1, completed at step t-1, to rank r+1;
//   - sums travel back down: rank n-1 sends the sum of piece t-n
//     (completed at step t-1) to rank n-2; rank r <= n-2 receives the sum
//     of piece t-2n+2+r from rank r+1 and, if r > 0, forwards it to rank
//     r-1 at the next step.
//
// Every send at step t meets the neighbour's receive at the same step, a
// rank never receives into a piece it still has to send, and each
// direction of a link carries one piece per step, so on full-duplex links
// the return overlaps the chain.
func chainSteps(r, n, m int, step func(chainStep) error) error {
	P := (m + ChainPiece - 1) / ChainPiece
	in := func(p int) int {
		if p >= 0 && p < P {
			return p
		}
		return -1
	}
	s := chainStep{next: r + 1, prev: r - 1}
	if r == n-1 {
		s.next = -1
	}
	for t := 0; t <= P+2*n-3; t++ {
		s.sendPart, s.recvPart, s.sendSum, s.recvSum = -1, -1, -1, -1
		if r < n-1 {
			s.sendPart = in(t - r - 1)
			s.recvSum = in(t - 2*n + 2 + r)
		}
		if r > 0 {
			s.recvPart = in(t - r)
			s.add = s.recvPart
		} else {
			s.add = in(t)
		}
		switch {
		case r == n-1:
			s.sendSum = in(t - n)
		case r > 0:
			s.sendSum = in(t - 2*n + 1 + r)
		}
		if err := step(s); err != nil {
			return err
		}
	}
	return nil
}

// pieceOf returns piece p of v (ChainPiece values, fewer for the last).
func pieceOf(v []float32, p int) []float32 {
	lo := p * ChainPiece
	return v[lo:min(len(v), lo+ChainPiece)]
}
