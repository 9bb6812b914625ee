package qkernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/qmath"
)

// TestPairRowEveryPath checks PairRow against its definition on every
// path: widths of one pixel up, channel counts around the 16-lane step,
// left padding and positions past the image, with the slack left alone.
func TestPairRowEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, c := range []int{1, 3, 16, 17, 40} {
			for _, w := range []int{1, 2, 5, 9} {
				for _, pl := range []int{0, 1, 2} {
					for _, wp := range []int{1, w, w + pl + 1, w + 3} {
						for _, sw := range []int{1, 2} {
							x := make([]int8, w*c)
							for i := range x {
								x[i] = int8(rng.IntN(256) - 128)
							}
							zp := rng.Int32N(256) - 128
							// The conversion alone (PackDWPairs builds one on VNNI only).
							d := &DWPairs{c: c, zp: zp, zpRow: make([]int8, c)}
							for i := range d.zpRow {
								d.zpRow[i] = int8(zp)
							}
							wq := PairPositions(wp, sw)
							dst := make([]int32, wq*c+PairSlack)
							for i := range dst {
								dst[i] = -7
							}
							d.PairRow(dst, x, w, pl, wp, sw)
							v := func(ix, ch int) int32 {
								if ix < 0 || ix >= w {
									return 0
								}
								return int32(x[ix*c+ch]) - zp
							}
							what := fmt.Sprintf("%v c=%d w=%d pl=%d wp=%d sw=%d", p, c, w, pl, wp, sw)
							for j := 0; j < wq; j++ {
								X := j * sw
								for ch := 0; ch < c; ch++ {
									want := int32(uint16(int16(v(X-pl, ch)))) | v(X-pl+1, ch)<<16
									if got := dst[j*c+ch]; got != want {
										t.Fatalf("%s: pair[%d][%d] = %#x, want %#x", what, j, ch, got, want)
									}
								}
							}
							for _, g := range dst[wq*c:] {
								if g != -7 {
									t.Fatalf("%s: slack written", what)
								}
							}
						}
					}
				}
			}
		}
		ran[p] = true
		restore()
	}
	checkCPUPathsRan(t, ran)
}

// TestDWPairsRows holds the pair-row 3x3 kernel to the generic
// DepthwiseRows on a zero-point-padded copy followed by Output.Rows:
// channel counts around the 16-lane blocks, strides 1 and 2, padded and
// unpadded windows, images of one pixel up, with guards after the output;
// it fails if the kernel did not run where the CPU has VNNI.
func TestDWPairsRows(t *testing.T) {
	if !supported(VNNI) {
		t.Skip("no VNNI: the pair-row kernel is not built for this CPU")
	}
	rng := rand.New(rand.NewPCG(43, 44))
	before := dwPairRows.Load()
	for _, c := range []int{1, 7, 16, 24, 33, 96} {
		for _, g := range []struct{ h, w, s, pad int }{{1, 1, 1, 1}, {3, 3, 1, 0}, {5, 7, 1, 1}, {6, 9, 2, 1}, {7, 7, 2, 0}, {4, 5, 2, 1}} {
			ow := (g.w+2*g.pad-3)/g.s + 1
			oh := (g.h+2*g.pad-3)/g.s + 1
			if ow < 1 || oh < 1 {
				continue
			}
			x := make([]int8, g.h*g.w*c)
			for i := range x {
				x[i] = int8(rng.IntN(256) - 128)
			}
			w := make([]int8, 9*c)
			for i := range w {
				w[i] = int8(rng.IntN(255) - 127)
			}
			zp := rng.Int32N(256) - 128
			bias := make([]int32, c)
			for i := range bias {
				bias[i] = rng.Int32N(1<<16) - 1<<15
			}
			zpOut := rng.Int32N(256) - 128
			mult := smallMults(c, rng)
			if c%2 == 0 { // no column with Shift 32: the H0 kernel
				for j := range mult {
					if mult[j].Shift == 32 {
						mult[j], _ = qmath.NewMultiplier(0.003)
					}
				}
			} else {
				mult[0], _ = qmath.NewMultiplier(0.3) // Shift 32: h = 2^31
			}
			o, err := NewChannelOutput(c, bias, mult, zpOut, zpOut, 127)
			if err != nil {
				t.Fatal(err)
			}
			// The reference: a padded copy, generic DepthwiseRows, Output.Rows.
			hp, wp := (oh-1)*g.s+3, (ow-1)*g.s+3
			xp := make([]int8, hp*wp*c)
			for i := range xp {
				xp[i] = int8(zp)
			}
			for y := 0; y < g.h; y++ {
				for xx := 0; xx < g.w; xx++ {
					if y+g.pad < hp && xx+g.pad < wp {
						copy(xp[((y+g.pad)*wp+xx+g.pad)*c:][:c], x[(y*g.w+xx)*c:][:c])
					}
				}
			}
			offs := make([]int, 9)
			for tp := range offs {
				offs[tp] = (tp/3*wp + tp%3) * c
			}
			restore := SetPath(Generic)
			ref, err := PackDepthwise(w, offs, c, zp)
			restore()
			if err != nil {
				t.Fatal(err)
			}
			want := make([]int8, oh*ow*c)
			acc := make([]int32, ow*c)
			for oy := 0; oy < oh; oy++ {
				ref.DepthwiseRows(acc, xp[oy*g.s*wp*c:], ow, g.s*c)
				o.Rows(acc, c, ow, want[oy*ow*c:], c)
			}
			d, err := PackDWPairs(w, c, zp, o)
			if err != nil || d == nil {
				t.Fatalf("c=%d: PackDWPairs = %v, %v", c, d, err)
			}
			if d.h0 != (c%2 == 0) {
				t.Fatalf("c=%d: h0 kernel %v", c, d.h0)
			}
			wq := PairPositions(wp, g.s)
			zero := make([]int32, wq*c+PairSlack)
			var rows [3][]int32
			for i := range rows {
				rows[i] = make([]int32, wq*c+PairSlack)
			}
			got := make([]int8, oh*ow*c+5)
			for i := range got {
				got[i] = guard
			}
			for oy := 0; oy < oh; oy++ {
				var r [3][]int32
				for ky := 0; ky < 3; ky++ {
					iy := oy*g.s - g.pad + ky
					if iy < 0 || iy >= g.h {
						r[ky] = zero
						continue
					}
					d.PairRow(rows[ky], x[iy*g.w*c:], g.w, g.pad, wp, g.s)
					r[ky] = rows[ky]
				}
				d.Rows(got[oy*ow*c:(oy+1)*ow*c], r[0], r[1], r[2], ow, g.s)
			}
			what := fmt.Sprintf("c=%d %+v", c, g)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: out[%d] = %d, want %d", what, i, got[i], want[i])
				}
			}
			for _, v := range got[len(want):] {
				if v != guard {
					t.Fatalf("%s: guard overwritten", what)
				}
			}
		}
	}
	if dwPairRows.Load() == before {
		t.Fatal("the pair-row kernel never ran")
	}
	restore := SetPath(AVX2)
	defer restore()
	o, _ := NewChannelOutput(1, nil, smallMults(1, rng), 0, -128, 127)
	if d, err := PackDWPairs(make([]int8, 9), 1, 0, o); d != nil || err != nil {
		t.Errorf("PackDWPairs off the VNNI path = %v, %v; want nil, nil", d, err)
	}
}
