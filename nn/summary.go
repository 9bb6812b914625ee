package nn

import (
	"strconv"
	"strings"

	"github.com/goqat/goqat/tensor"
)

// Summary returns a Keras-style table of the model: one row per layer with
// its name and type, output shape (batch shown as None) and parameter
// count, plus, for Functional models, a row per input and the layers each
// layer is connected to; then the total, trainable and non-trainable
// parameter counts. The sub-layers of a Composite (a nested model, a
// user-defined block) follow its row, indented, with their own counts
// (already in the composite's).
//
//	Model: "sequential"
//	____________________________________________________________
//	 Layer (type)             Output Shape            Param #
//	============================================================
//	 conv2d (Conv2D)          (None, 26, 26, 32)      320
//	 ...
//	============================================================
//	Total params: 120,234
//	Trainable params: 119,914
//	Non-trainable params: 320
//	____________________________________________________________
func (m *Model) Summary() string {
	type row struct{ cells [4][]string }
	var rows []row
	functional := !m.sequential
	if functional {
		for _, x := range m.inputs {
			rows = append(rows, row{[4][]string{
				{x.name + " (InputLayer)"}, {noneShape(x.shape)}, {"0"}, {"[]"},
			}})
		}
	}
	var total, trainable int
	for _, st := range m.steps {
		count := 0
		for _, p := range st.layer.Params() {
			count += p.Value.Size()
			if p.Trainable {
				trainable += p.Value.Size()
			}
		}
		total += count
		var conn []string
		for _, p := range st.node.inbound {
			conn = append(conn, nodeName(p)+"[0][0]")
		}
		rows = append(rows, row{[4][]string{
			{st.layer.Name() + " (" + st.layer.Type() + ")"}, {noneShape(st.node.shape)}, {thousands(count)}, conn,
		}})
		if c, ok := st.layer.(Composite); ok && c.Inner() != nil {
			subRows(c.Inner(), "  ", func(cells [4][]string) { rows = append(rows, row{cells}) })
		}
	}
	headers := [4]string{"Layer (type)", "Output Shape", "Param #", "Connected to"}
	mins := [4]int{28, 25, 10, 20}
	ncols := 3
	if functional {
		ncols = 4
	}
	var widths [4]int
	for c := 0; c < ncols; c++ {
		w := len(headers[c])
		for _, r := range rows {
			for _, s := range r.cells[c] {
				w = max(w, len(s))
			}
		}
		widths[c] = max(mins[c], w+3)
	}
	lineLen := 1
	for c := 0; c < ncols; c++ {
		lineLen += widths[c]
	}
	var b strings.Builder
	line := func(cells [4]string) {
		var l strings.Builder
		l.WriteByte(' ')
		for c := 0; c < ncols; c++ {
			l.WriteString(cells[c])
			if c < ncols-1 {
				l.WriteString(strings.Repeat(" ", widths[c]-len(cells[c])))
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	b.WriteString("Model: " + strconv.Quote(m.name) + "\n")
	b.WriteString(strings.Repeat("_", lineLen) + "\n")
	line(headers)
	b.WriteString(strings.Repeat("=", lineLen) + "\n")
	for _, r := range rows {
		height := 1
		for c := 0; c < ncols; c++ {
			height = max(height, len(r.cells[c]))
		}
		for i := 0; i < height; i++ {
			var cells [4]string
			for c := 0; c < ncols; c++ {
				if i < len(r.cells[c]) {
					cells[c] = r.cells[c][i]
				}
			}
			line(cells)
		}
	}
	b.WriteString(strings.Repeat("=", lineLen) + "\n")
	b.WriteString("Total params: " + thousands(total) + "\n")
	b.WriteString("Trainable params: " + thousands(trainable) + "\n")
	b.WriteString("Non-trainable params: " + thousands(total-trainable) + "\n")
	b.WriteString(strings.Repeat("_", lineLen) + "\n")
	return b.String()
}

// noneShape formats a per-sample shape with the batch as None:
// "(None, 26, 26, 32)".
func noneShape(s tensor.Shape) string {
	var b strings.Builder
	b.WriteString("(None")
	for _, d := range s {
		b.WriteString(", " + strconv.Itoa(d))
	}
	b.WriteByte(')')
	return b.String()
}

// thousands formats n with comma separators: 120234 -> "120,234".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// subRows adds a row for every layer of a composite's inner model m,
// indented by indent, and for their own sub-layers, deeper.
func subRows(m *Model, indent string, add func([4][]string)) {
	for _, st := range m.steps {
		count := 0
		for _, p := range st.layer.Params() {
			count += p.Value.Size()
		}
		add([4][]string{{indent + st.layer.Name() + " (" + st.layer.Type() + ")"}, {noneShape(st.node.shape)}, {thousands(count)}, nil})
		if c, ok := st.layer.(Composite); ok && c.Inner() != nil {
			subRows(c.Inner(), indent+"  ", add)
		}
	}
}
