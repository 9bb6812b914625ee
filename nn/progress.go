package nn

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// KV is a named value shown by a ProgressBar ("loss", 0.1234).
type KV struct {
	// Key is the label shown before the value.
	Key string
	// Value is shown with 4 decimals (or in exponent form when tiny).
	Value float64
}

// ProgressBar prints Keras-style progress for a loop of total steps. On a
// terminal it keeps a live line, redrawn with \r at most every 100 ms:
//
//	235/469 [=============>................] - ETA: 12s - loss: 0.1234 - accuracy: 0.9612
//
// and Done replaces it with the final line:
//
//	469/469 [==============================] - 25s 53ms/step - loss: 0.0712 - accuracy: 0.9788
//
// On anything else (a pipe, a file) only the final line is printed.
type ProgressBar struct {
	w       io.Writer
	total   int
	live    bool
	start   time.Time
	drawn   time.Time // last redraw
	done    int
	vals    []KV
	lastLen int // length of the last live line, to blank it out
	now     func() time.Time
}

// progressWidth is the number of characters inside the brackets.
const progressWidth = 30

// progressEvery is the minimum time between two live redraws.
const progressEvery = 100 * time.Millisecond

// NewProgressBar returns a bar for total steps written to w, live if w is a
// terminal.
func NewProgressBar(w io.Writer, total int) *ProgressBar {
	return &ProgressBar{w: w, total: total, live: isTerminal(w), start: time.Now(), now: time.Now}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update records that done steps are finished, with the current values, and
// redraws the live line if the last redraw is more than 100 ms old.
func (p *ProgressBar) Update(done int, values ...KV) {
	p.done = done
	p.vals = append(p.vals[:0], values...)
	if !p.live {
		return
	}
	now := p.now()
	if now.Sub(p.drawn) < progressEvery {
		return
	}
	p.drawn = now
	p.draw(p.liveLine(now.Sub(p.start)), false)
}

// Done prints the final line, with the values of the last Update.
func (p *ProgressBar) Done() {
	p.draw(p.finalLine(p.now().Sub(p.start)), true)
}

// draw writes a line, over the previous live one on a terminal.
func (p *ProgressBar) draw(line string, final bool) {
	var b strings.Builder
	if p.live {
		b.WriteByte('\r')
		b.WriteString(line)
		if pad := p.lastLen - len(line); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		p.lastLen = len(line)
	} else {
		b.WriteString(line)
	}
	if final {
		b.WriteByte('\n')
		p.lastLen = 0
	}
	io.WriteString(p.w, b.String())
}

// counter formats " 235/469 [====>....]".
func (p *ProgressBar) counter() string {
	digits := len(fmt.Sprint(p.total))
	var b strings.Builder
	fmt.Fprintf(&b, " %*d/%d [", digits, p.done, p.total)
	filled := 0
	if p.total > 0 {
		filled = progressWidth * min(p.done, p.total) / p.total
	}
	if filled > 0 {
		b.WriteString(strings.Repeat("=", filled-1))
		if p.done < p.total {
			b.WriteByte('>')
		} else {
			b.WriteByte('=')
		}
	}
	b.WriteString(strings.Repeat(".", progressWidth-filled))
	b.WriteByte(']')
	return b.String()
}

// liveLine is the line shown while running, with an ETA.
func (p *ProgressBar) liveLine(elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString(p.counter())
	if p.done > 0 && p.done < p.total {
		eta := elapsed.Seconds() / float64(p.done) * float64(p.total-p.done)
		b.WriteString(" - ETA: " + formatETA(eta))
	}
	b.WriteString(formatValues(p.vals))
	return b.String()
}

// finalLine is the line left when the loop is done.
func (p *ProgressBar) finalLine(elapsed time.Duration) string {
	return p.counter() + " - " + formatTiming(elapsed, p.done) + formatValues(p.vals)
}

// formatTiming formats "25s 53ms/step" like Keras.
func formatTiming(elapsed time.Duration, steps int) string {
	s := fmt.Sprintf("%.0fs", elapsed.Seconds())
	if steps > 0 {
		per := elapsed.Seconds() / float64(steps)
		switch {
		case per >= 1:
			s += fmt.Sprintf(" %.0fs/step", per)
		case per >= 1e-3:
			s += fmt.Sprintf(" %.0fms/step", per*1e3)
		default:
			s += fmt.Sprintf(" %.0fus/step", per*1e6)
		}
	}
	return s
}

// formatETA formats seconds as "12s", "3:05" or "1:02:03".
func formatETA(sec float64) string {
	t := int(math.Round(sec))
	switch {
	case t >= 3600:
		return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
	case t >= 60:
		return fmt.Sprintf("%d:%02d", t/60, t%60)
	}
	return fmt.Sprintf("%ds", t)
}

// formatValues formats " - loss: 0.1234 - accuracy: 0.9612" (%.4e for
// values below 1e-3 in magnitude, as Keras).
func formatValues(vals []KV) string {
	var b strings.Builder
	for _, kv := range vals {
		v := kv.Value
		if v != 0 && math.Abs(v) < 1e-3 {
			fmt.Fprintf(&b, " - %s: %.4e", kv.Key, v)
		} else {
			fmt.Fprintf(&b, " - %s: %.4f", kv.Key, v)
		}
	}
	return b.String()
}
