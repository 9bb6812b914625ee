package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// maxConfusionClasses bounds the heat map: beyond it the cells are too
// small to read.
const maxConfusionClasses = 200

// Confusion writes a confusion matrix as a PNG heat map: rows the true
// classes (first at the top), columns the predicted ones, each cell
// coloured by its share of the row (the recall of the diagonal) from white
// to dark blue (by the square root of the share, so that small confusions
// show) and, up to 30 classes, labelled with its count; the axes
// name the classes. counts holds len(names)^2 counts, row-major.
func Confusion(path, title string, names []string, counts []int) error {
	c := len(names)
	if c < 1 || c > maxConfusionClasses {
		return fmt.Errorf("plots: confusion matrix of %d classes, want 1 to %d", c, maxConfusionClasses)
	}
	if len(counts) != c*c {
		return errors.New("plots: confusion counts do not match the class names")
	}
	p := newPlot(title, "predicted class", "true class")
	p.Add(&heat{names: names, counts: counts})
	ticks := func(rev bool) plot.ConstantTicks {
		ts := make([]plot.Tick, c)
		for i, n := range names {
			v := float64(i)
			if rev {
				v = float64(c - 1 - i)
			}
			ts[i] = plot.Tick{Value: v, Label: n}
		}
		return ts
	}
	p.X.Tick.Marker = ticks(false)
	p.Y.Tick.Marker = ticks(true)
	p.X.Min, p.X.Max = -0.5, float64(c)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(c)-0.5
	long := 0
	for _, n := range names {
		long = max(long, len(n))
	}
	if long > 3 || c > 12 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
	}
	if c > 30 {
		p.X.Tick.Label.Font.Size = vg.Points(6)
		p.Y.Tick.Label.Font.Size = vg.Points(6)
	}
	return save(path, width, p)
}

// heat draws the matrix cells.
type heat struct {
	names  []string
	counts []int
}

// DataRange is the cells' extent.
func (h *heat) DataRange() (xmin, xmax, ymin, ymax float64) {
	c := float64(len(h.names))
	return -0.5, c - 0.5, -0.5, c - 0.5
}

// Plot fills each cell with its row share and writes its count.
func (h *heat) Plot(dc draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&dc)
	c := len(h.names)
	sty := text.Style{Font: p.X.Tick.Label.Font, XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: p.X.Tick.Label.Handler}
	sty.Font.Size = vg.Points(10)
	if c > 15 {
		sty.Font.Size = vg.Points(7)
	}
	for t := 0; t < c; t++ {
		row := 0
		for q := 0; q < c; q++ {
			row += h.counts[t*c+q]
		}
		for q := 0; q < c; q++ {
			n := h.counts[t*c+q]
			share := 0.0
			if row > 0 {
				share = float64(n) / float64(row)
			}
			y := float64(c - 1 - t)
			x0, x1 := tx(float64(q)-0.5), tx(float64(q)+0.5)
			y0, y1 := ty(y-0.5), ty(y+0.5)
			shade := math.Sqrt(share) // small confusions stay visible
			dc.FillPolygon(ramp(shade), []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			if c <= 30 {
				sty.Color = color.Black
				if shade > 0.6 {
					sty.Color = color.White
				}
				dc.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, fmt.Sprint(n))
			}
		}
	}
	// Cell borders.
	ls := draw.LineStyle{Color: color.Gray{Y: 235}, Width: vg.Points(0.5)}
	for i := 0; i <= c; i++ {
		v := float64(i) - 0.5
		dc.StrokeLine2(ls, tx(-0.5), ty(v), tx(float64(c)-0.5), ty(v))
		dc.StrokeLine2(ls, tx(v), ty(-0.5), tx(v), ty(float64(c)-0.5))
	}
}

// ramp maps a share in [0, 1] to white .. dark blue.
func ramp(s float64) color.Color {
	s = math.Max(0, math.Min(1, s))
	lerp := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*s)) }
	return color.RGBA{R: lerp(255, 8), G: lerp(255, 48), B: lerp(255, 107), A: 255}
}
