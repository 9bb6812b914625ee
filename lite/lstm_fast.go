package lite

import (
	"sync"

	"github.com/goqat/goqat/internal/qkernels"
)

// The AVX-512 forms of the integer recurrent ops' int16 stages
// (docs/DESIGN.md, Runtime and kernels): the requantization of the
// products to Q3.12 (qkernels.Requant16, behind colMults.rows16) and the
// LSTM, SimpleRNN and GRU cells with their table lookups
// (qkernels.LSTMCell, in place of lstmCell, rnnCell and gruCell). They
// are chosen when an op is prepared on the VNNI path (the path its
// weights are packed for) and compute the integers of the Go loops in
// lstm.go, which stay the reference and the other paths.

// vecTables holds the tables in the layout qkernels.LSTMCell reads,
// built once from Sigmoid16 and Tanh16.
var vecTables struct {
	once sync.Once
	t    []int16
}

// cellTables returns the tables of qkernels.LSTMCell.
func cellTables() []int16 {
	vecTables.once.Do(func() {
		int16Tables()
		t := make([]int16, qkernels.CellTableLen)
		copy(t, lstmTables.sigmoid[:])
		copy(t[1<<16:], lstmTables.tan[:])
		vecTables.t = t
	})
	return vecTables.t
}

// vecPath reports whether ops prepared now take the AVX-512 forms.
func vecPath() bool {
	return qkernels.ActivePath() == qkernels.VNNI && qkernels.CellSupported()
}

// newVecRows16 returns the AVX-512 requantization of c's columns, or nil
// off the VNNI path or where a column's multiplier does not fit it (the
// Go loop then runs).
func newVecRows16(c *colMults) *qkernels.Requant16 {
	if !vecPath() || !c.fast || len(c.m0) == 0 {
		return nil
	}
	r, err := qkernels.NewRequant16(c.m0, c.s, true)
	if err != nil || !r.Vector() {
		return nil
	}
	return r
}

// newVecCell returns the AVX-512 cell of an LSTM, SimpleRNN or GRU, or
// nil off the VNNI path or where the output multipliers do not fit it.
func newVecCell(p *lstmParams) *qkernels.LSTMCell {
	if !vecPath() {
		return nil
	}
	var c *qkernels.LSTMCell
	var err error
	if p.gates == 3 {
		c, err = qkernels.NewGRUCell(cellTables(), p.m1, p.m2, p.shift, p.zh, p.lo, p.hi)
	} else {
		c, err = qkernels.NewLSTMCell(cellTables(), p.e, p.mh.m0, p.mh.s, p.zh, p.lo, p.hi)
	}
	if err != nil {
		return nil
	}
	return c
}

// lstmStep is lstmCell with p's constants, on the AVX-512 cell when the
// op has it.
func (p *lstmParams) lstmStep(z, c []int16, h []int8) {
	if p.cell != nil {
		p.cell.Step(z, c, h)
		return
	}
	lstmCell(z, c, h, p.e, p.mh, p.zh, p.lo, p.hi)
}

// rnnStep is rnnCell with p's constants, on the AVX-512 cell when the op
// has it.
func (p *lstmParams) rnnStep(z []int16, h []int8) {
	if p.cell != nil {
		p.cell.StepRNN(z, h)
		return
	}
	rnnCell(z, h, p.mh, p.zh, p.lo, p.hi)
}

// gruStep is gruCell with p's constants, on the AVX-512 cell when the op
// has it.
func (p *lstmParams) gruStep(px, pr []int16, h []int8) {
	if p.cell != nil {
		p.cell.StepGRU(px, pr, h)
		return
	}
	gruCell(px, pr, h, p.m1, p.m2, p.shift, p.zh, p.lo, p.hi)
}
