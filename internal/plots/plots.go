// Package plots draws goqat's PNG charts with gonum.org/v1/plot: the
// quantization debugger's per-layer chart (Layers) and the training curves
// of float and QAT runs (Curves). The charts are sized for reading at
// 800 px wide.
package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// width is the charts' width: 800 px at 96 dpi.
const (
	dpi   = 96
	width = 800 * vg.Inch / dpi
)

// Palette: colour-blind-safe (Okabe-Ito).
var (
	blue   = color.RGBA{R: 0, G: 114, B: 178, A: 255}
	green  = color.RGBA{R: 0, G: 158, B: 115, A: 255}
	orange = color.RGBA{R: 230, G: 159, B: 0, A: 255}
	red    = color.RGBA{R: 213, G: 94, B: 0, A: 255}
)

// save draws the plots stacked vertically (aligned axes) into a PNG of
// the given height.
func save(path string, height vg.Length, ps ...*plot.Plot) error {
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	rows := make([][]*plot.Plot, len(ps))
	for i, p := range ps {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(10)}
	cs := plot.Align(rows, tiles, dc)
	for i, p := range ps {
		p.Draw(cs[i][0])
	}
	// Write to a temporary file and rename it, so that an interrupted run
	// never leaves a truncated PNG in place of a good one.
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, err = (vgimg.PngCanvas{Canvas: img}).WriteTo(f)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes 0600 files
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// newPlot returns a plot with a title and axis labels, a light grid and
// larger fonts.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	g := plotter.NewGrid()
	g.Vertical.Color = color.Transparent
	g.Horizontal.Color = color.Gray{Y: 220}
	p.Add(g)
	return p
}

// LayerRow is one layer of the quantization debugger's chart.
type LayerRow struct {
	// Name is the layer's name.
	Name string
	// SQNR is the signal-to-quantization-noise ratio in dB between the
	// QAT and the integer activation (+Inf when equal).
	SQNR float64
	// Same, Off1 and OffMore are the shares (0..1) of values whose codes
	// differ by 0, 1 and more than 1 LSB.
	Same, Off1, OffMore float64
}

// sqnrCap is where Layers draws an infinite SQNR (identical activations).
const sqnrCap = 160

// Layers writes a PNG with two panels: the SQNR of every layer (bars; an
// identical layer is drawn at 160 dB) and, stacked per layer, the shares
// of values 0, 1 and more than 1 LSB apart.
func Layers(path, title string, rows []LayerRow) error {
	if len(rows) == 0 {
		return errors.New("plots: no layers")
	}
	names := make([]string, len(rows))
	sqnr := make(plotter.Values, len(rows))
	same := make(plotter.Values, len(rows))
	off1 := make(plotter.Values, len(rows))
	more := make(plotter.Values, len(rows))
	for i, r := range rows {
		names[i] = r.Name
		sqnr[i] = math.Min(r.SQNR, sqnrCap)
		if math.IsNaN(r.SQNR) {
			sqnr[i] = 0
		}
		same[i], off1[i], more[i] = 100*r.Same, 100*r.Off1, 100*r.OffMore
	}
	bw := vg.Points(math.Max(4, math.Min(24, 520/float64(len(rows)))))

	top := newPlot(title, "", "SQNR (dB)")
	b, err := plotter.NewBarChart(sqnr, bw)
	if err != nil {
		return err
	}
	b.Color, b.LineStyle.Width = blue, 0
	top.Add(b)
	top.Legend.Add("SQNR, QAT vs integer (identical drawn at 160 dB)", b)
	top.Legend.Top = true
	top.Y.Min, top.Y.Max = 0, sqnrCap*1.25
	top.NominalX(names...)
	top.X.Tick.Label.Rotation = math.Pi / 2
	top.X.Tick.Label.XAlign, top.X.Tick.Label.YAlign = draw.XRight, draw.YCenter

	bot := newPlot("", "layer", "share of values (%)")
	var prev *plotter.BarChart
	for _, s := range []struct {
		v     plotter.Values
		c     color.Color
		label string
	}{{same, green, "same code"}, {off1, orange, "1 LSB apart"}, {more, red, "> 1 LSB apart"}} {
		b, err := plotter.NewBarChart(s.v, bw)
		if err != nil {
			return err
		}
		b.Color, b.LineStyle.Width = s.c, 0
		if prev != nil {
			b.StackOn(prev)
		}
		bot.Add(b)
		bot.Legend.Add(s.label, b)
		prev = b
	}
	bot.Legend.Top = true
	bot.Legend.Left = false
	bot.Y.Min, bot.Y.Max = 0, 125
	bot.NominalX(names...)
	bot.X.Tick.Label.Rotation = math.Pi / 2
	bot.X.Tick.Label.XAlign, bot.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	return save(path, 700*vg.Inch/dpi, top, bot)
}

// Curve is one training run's metrics per epoch (Loss and Accuracy of
// equal length, one value per epoch; Accuracy in 0..1).
type Curve struct {
	// Label names the run, e.g. "float train" or "QAT validation".
	Label string
	// Loss and Accuracy are the per-epoch values.
	Loss, Accuracy []float64
	// Dashed draws the line dashed (e.g. validation runs).
	Dashed bool
	// FirstEpoch is the epoch number of the first value (1 when zero), so
	// that a QAT run can continue the float run's axis.
	FirstEpoch int
}

// Curves writes a PNG with two panels, loss and accuracy per epoch, one
// line per curve (for example float and QAT, train and validation).
func Curves(path, title string, curves []Curve) error {
	if len(curves) == 0 {
		return errors.New("plots: no curves")
	}
	loss := newPlot(title, "", "loss")
	acc := newPlot("", "epoch", "accuracy (%)")
	colors := []color.Color{blue, orange, green, red}
	for i, c := range curves {
		if len(c.Loss) != len(c.Accuracy) {
			return fmt.Errorf("plots: curve %q has %d losses and %d accuracies", c.Label, len(c.Loss), len(c.Accuracy))
		}
		if len(c.Loss) == 0 {
			return fmt.Errorf("plots: curve %q is empty", c.Label)
		}
		first := max(c.FirstEpoch, 1)
		lp, ap := make(plotter.XYs, len(c.Loss)), make(plotter.XYs, len(c.Loss))
		for e := range c.Loss {
			lp[e] = plotter.XY{X: float64(e + first), Y: c.Loss[e]}
			ap[e] = plotter.XY{X: float64(e + first), Y: 100 * c.Accuracy[e]}
		}
		col := colors[i%len(colors)]
		for _, x := range []struct {
			p   *plot.Plot
			pts plotter.XYs
		}{{loss, lp}, {acc, ap}} {
			l, s, err := plotter.NewLinePoints(x.pts)
			if err != nil {
				return err
			}
			l.Color, l.Width = col, vg.Points(2)
			s.Color, s.Shape = col, draw.CircleGlyph{}
			if c.Dashed {
				l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			x.p.Add(l, s)
		}
		loss.Legend.Add(c.Label, lp2(lp, col, c.Dashed)...)
	}
	loss.Legend.Top = true // one legend, for both panels
	for _, p := range []*plot.Plot{loss, acc} {
		p.X.Tick.Marker = plot.TickerFunc(epochTicks)
		// Keep the first and last points off the frame.
		p.X.Min -= 0.2
		p.X.Max += 0.2
	}
	return save(path, 600*vg.Inch/dpi, loss, acc)
}

// lp2 returns the legend thumbnails of a curve's line and points.
func lp2(pts plotter.XYs, col color.Color, dashed bool) []plot.Thumbnailer {
	l, s, err := plotter.NewLinePoints(pts[:1])
	if err != nil {
		return nil
	}
	l.Color, l.Width = col, vg.Points(2)
	s.Color, s.Shape = col, draw.CircleGlyph{}
	if dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	return []plot.Thumbnailer{l, s}
}

// epochTicks marks whole epochs.
func epochTicks(min, max float64) []plot.Tick {
	step := math.Max(1, math.Ceil((max-min)/10))
	var ts []plot.Tick
	for e := math.Ceil(min); e <= max; e += step {
		ts = append(ts, plot.Tick{Value: e, Label: fmt.Sprintf("%.0f", e)})
	}
	return ts
}
