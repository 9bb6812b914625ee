package lite

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// padStep reports whether a step's input codes are all the zero point
// (Op.Masking's padding), as the reference loop reads it.
func padStep(x []int8, zp int32) bool {
	for _, v := range x {
		if int32(v) != zp {
			return false
		}
	}
	return true
}

// maskedInput returns n random samples (T, F) in which random steps are
// padding (every code the zero point zp): leading, trailing and inner
// runs, a whole padded sample, and steps with a single code off the zero
// point (not padding).
func maskedInput(r *rand.Rand, n, t, f int, zp int8) []int8 {
	x := make([]int8, n*t*f)
	for i := range x {
		x[i] = int8(r.IntN(256) - 128)
	}
	for i := 0; i < n; i++ {
		for s := 0; s < t; s++ {
			row := x[(i*t+s)*f : (i*t+s+1)*f]
			switch {
			case i == n-1 && n > 1, r.IntN(3) == 0:
				for j := range row {
					row[j] = zp
				}
			case r.IntN(5) == 0:
				for j := range row {
					row[j] = zp
				}
				row[r.IntN(f)] = zp + 1
			}
		}
	}
	return x
}

// TestLSTMMasking runs the integer LSTM, GRU and SimpleRNN with Masking on
// inputs with padding steps and compares them code for code with the
// reference loop at one and three threads; without Masking the same inputs
// give different codes (the flag is not ignored).
func TestLSTMMasking(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 40))
	cases := []lstmCase{
		{t: 6, f: 3, u: 7, bits: 8, e: -11, bias: true},
		{t: 7, f: 5, u: 6, bits: 8, e: -9, seq: true, back: true, bias: true},
		{t: 5, f: 4, u: 5, bits: 4, e: -12, seq: true},
		{t: 6, f: 3, u: 7, bits: 8, bias: true, rnn: true},
		{t: 5, f: 9, u: 9, bits: 8, seq: true, back: true, rnn: true},
		{t: 6, f: 3, u: 7, bits: 8, bias: true, gru: true},
		{t: 7, f: 2, u: 4, bits: 8, seq: true, back: true, bias: true, gru: true},
	}
	for k, c := range cases {
		m := lstmModel(c, r)
		m.Ops[0].Masking = true
		if err := m.Validate(); err != nil {
			t.Fatalf("case %d: %v", k, err)
		}
		zp := int8(m.Tensors[0].ZeroPoint)
		for _, n := range []int{1, 6} {
			x := maskedInput(r, n, c.t, c.f, zp)
			want := refLSTM(m, x, n)
			for _, th := range []int{1, 3} {
				got := runInt8(t, m, x, n, th)
				if !bytes.Equal(i8bytes(got), i8bytes(want)) {
					t.Fatalf("case %d batch %d threads %d: got %v, want %v", k, n, th, got, want)
				}
			}
			if n > 1 {
				m.Ops[0].Masking = false
				if bytes.Equal(i8bytes(runInt8(t, m, x, n, 1)), i8bytes(want)) {
					t.Errorf("case %d: the same codes without Masking", k)
				}
				m.Ops[0].Masking = true
			}
		}
	}
}

// TestLSTMMaskingIsShorterSequence checks the meaning of padding: a sample
// whose first steps are padding (for GoBackwards, its last) gives the
// output of the same op without Masking on the sequence without them, and
// so does one whose padding is at the end (the state is carried).
func TestLSTMMaskingIsShorterSequence(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 41))
	for k, c := range []lstmCase{
		{t: 6, f: 3, u: 5, bits: 8, e: -11, bias: true},
		{t: 6, f: 3, u: 5, bits: 8, e: -11, bias: true, back: true},
		{t: 5, f: 4, u: 3, bits: 8, bias: true, gru: true},
		{t: 5, f: 4, u: 3, bits: 8, bias: true, rnn: true, back: true},
	} {
		m := lstmModel(c, r)
		m.Ops[0].Masking = true
		zp := int8(m.Tensors[0].ZeroPoint)
		short := c.t - 2
		sm := &Model{Name: m.Name, Tensors: slices.Clone(m.Tensors), Ops: slices.Clone(m.Ops), Inputs: m.Inputs, Outputs: m.Outputs}
		sm.Tensors[0].Shape = []int{short, c.f}
		sm.Ops[0].Masking = false
		body := make([]int8, short*c.f)
		for i := range body {
			body[i] = int8(r.IntN(256) - 128)
		}
		want := runInt8(t, sm, body, 1, 1)
		pad := make([]int8, 2*c.f)
		for i := range pad {
			pad[i] = zp
		}
		for _, x := range [][]int8{slices.Concat(pad, body), slices.Concat(body, pad), slices.Concat(pad[:c.f], body, pad[c.f:])} {
			if got := runInt8(t, m, x, 1, 1); !bytes.Equal(i8bytes(got), i8bytes(want)) {
				t.Errorf("case %d: padded %v, shorter sequence %v", k, got, want)
			}
		}
	}
}

// TestLSTMMaskingSaveLoad checks that Masking survives a save and load,
// that a file without it loads with it off, and that other ops refuse it.
func TestLSTMMaskingSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 42))
	for _, on := range []bool{true, false} {
		m := lstmModel(lstmCase{t: 4, f: 3, u: 5, bits: 8, e: -11, seq: true, bias: true}, r)
		m.Ops[0].Masking = on
		path := t.TempDir() + "/m.safetensors"
		if err := Save(path, m); err != nil {
			t.Fatal(err)
		}
		l, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if l.Ops[0].Masking != on {
			t.Fatalf("Masking %v loaded as %v", on, l.Ops[0].Masking)
		}
	}
	m := tinyModel(8)
	m.Ops[len(m.Ops)-1].Masking = true
	if err := m.Validate(); err == nil {
		t.Errorf("Masking on %s accepted", m.Ops[len(m.Ops)-1].Type)
	}
}
