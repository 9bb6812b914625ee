package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// recurrentVariants lists option sets every recurrent layer is checked
// with.
func recurrentVariants() []RecurrentOptions {
	var out []RecurrentOptions
	for _, seq := range []bool{false, true} {
		for _, back := range []bool{false, true} {
			out = append(out, RecurrentOptions{Units: 3, UseBias: true, ReturnSequences: seq, GoBackwards: back})
		}
	}
	out = append(out, RecurrentOptions{Units: 2, UseBias: false, ReturnSequences: true})
	return out
}

// newRecurrent returns a layer of kind typ with options o.
func newRecurrent(typ string, o RecurrentOptions) Layer {
	switch typ {
	case "LSTM":
		return &LSTM{RecurrentOptions: o}
	case "GRU":
		return &GRU{RecurrentOptions: o}
	}
	return &SimpleRNN{RecurrentOptions: o}
}

func TestRecurrentGradients(t *testing.T) {
	for _, typ := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, o := range recurrentVariants() {
			t.Run(fmt.Sprintf("%s_%+v", typ, o), func(t *testing.T) {
				gradCheck(t, newRecurrent(typ, o), 3, true, 1e-2, 2e-2, tensor.Shape{5, 4})
			})
		}
	}
}

// refStep is one step of a recurrent layer computed naively in float64
// from the weights as Keras defines the cell: x (F), h and c (U) the
// previous states; it returns the new states.
func refStep(typ string, x, h, c []float64, w, ur, b []float32, f, u int) (hn, cn []float64) {
	gates := map[string]int{"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[typ]
	gu := gates * u
	dot := func(v []float64, m []float32, rows, col int) float64 {
		var s float64
		for i := 0; i < rows; i++ {
			s += v[i] * float64(m[i*gu+col])
		}
		return s
	}
	bias := func(row, j int) float64 {
		if b == nil {
			return 0
		}
		return float64(b[row*gu+j])
	}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	hn, cn = make([]float64, u), make([]float64, u)
	for j := 0; j < u; j++ {
		switch typ {
		case "LSTM":
			z := func(gate int) float64 {
				col := gate*u + j
				return dot(x, w, f, col) + dot(h, ur, u, col) + bias(0, col)
			}
			i, fg, g, o := sig(z(0)), sig(z(1)), math.Tanh(z(2)), sig(z(3))
			cn[j] = fg*c[j] + i*g
			hn[j] = o * math.Tanh(cn[j])
		case "GRU":
			a := func(gate int) float64 { return dot(x, w, f, gate*u+j) + bias(0, gate*u+j) }
			q := func(gate int) float64 { return dot(h, ur, u, gate*u+j) + bias(1, gate*u+j) }
			z := sig(a(0) + q(0))
			r := sig(a(1) + q(1))
			n := math.Tanh(a(2) + r*q(2))
			hn[j] = z*h[j] + (1-z)*n
		default:
			hn[j] = math.Tanh(dot(x, w, f, j) + dot(h, ur, u, j) + bias(0, j))
		}
	}
	return hn, cn
}

// refRecurrent runs a built recurrent layer's weights over x (N, T, F)
// with a plain loop (masking: all-zero steps keep the state and repeat
// the previous output) and returns the output Forward should give.
func refRecurrent(typ string, o RecurrentOptions, p []*Param, x *tensor.Tensor) []float64 {
	n, T, f, u := x.Shape[0], x.Shape[1], x.Shape[2], o.Units
	var b []float32
	if len(p) > 2 {
		b = p[2].Value.Data
	}
	var out []float64
	for i := 0; i < n; i++ {
		h, c := make([]float64, u), make([]float64, u)
		for s := 0; s < T; s++ {
			ti := s
			if o.GoBackwards {
				ti = T - 1 - s
			}
			xs := make([]float64, f)
			pad := true
			for j := range xs {
				xs[j] = float64(x.Data[(i*T+ti)*f+j])
				pad = pad && xs[j] == 0
			}
			if !(o.Masking && pad) {
				h, c = refStep(typ, xs, h, c, p[0].Value.Data, p[1].Value.Data, b, f, u)
			}
			if o.ReturnSequences || s == T-1 {
				out = append(out, h...)
			}
		}
	}
	return out
}

func TestRecurrentForwardReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, o := range append(recurrentVariants(), RecurrentOptions{Units: 5, UseBias: true, ReturnSequences: true, Masking: true},
			RecurrentOptions{Units: 5, UseBias: true, GoBackwards: true, Masking: true}) {
			l := newRecurrent(typ, o)
			m, err := NewSequential(tensor.Shape{7, 6}, l)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params() {
				for i := range p.Value.Data {
					p.Value.Data[i] += float32(0.2 * r.NormFloat64())
				}
			}
			x := randTensor(r, 4, 7, 6)
			// Padding: sample 1 ends with two zero steps, sample 2 has one in
			// the middle.
			for _, st := range [][2]int{{1, 5}, {1, 6}, {2, 3}} {
				clear(x.Data[(st[0]*7+st[1])*6 : (st[0]*7+st[1]+1)*6])
			}
			got, err := m.Forward(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			want := refRecurrent(typ, o, l.Params(), x)
			if len(want) != len(got[0].Data) {
				t.Fatalf("%s %+v: %d outputs, want %d", typ, o, len(got[0].Data), len(want))
			}
			for i, w := range want {
				if d := math.Abs(float64(got[0].Data[i]) - w); d > 1e-5 {
					t.Fatalf("%s %+v: output %d = %v, reference %v", typ, o, i, got[0].Data[i], w)
				}
			}
		}
	}
}
