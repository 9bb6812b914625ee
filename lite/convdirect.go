package lite

import "github.com/goqat/goqat/internal/qkernels"

// The direct (implicit-GEMM) path of Conv2D (docs/DESIGN.md, Runtime and
// kernels): on the fused VNNI kernel, a convolution whose window rows are
// whole VPDPBUSD groups (C a multiple of 4) reads its GEMM rows in place
// from the padded copy of the input (N, HP, WP, C), stored once per run
// in the kernels' uint8 form with the zero point around the image,
// instead of writing each tile of im2col rows: row (b, oy, ox) is KH
// segments of KW*C bytes, WP*C apart, starting at (b, oy*SH, ox*SW). A
// tile is MR rows SW*C bytes apart, so it holds output pixels of one row,
// or, at stride 1, MR consecutive positions of the padded image (row
// pitch WP), the few that fall between two output rows computed and
// dropped: whichever computes fewer rows. The path is taken only where
// it computes at most 4% more rows than the im2col tiles: writing a tile
// of im2col rows costs some 10-15% of its product for 64 filters and
// less for more (BenchmarkConvOps times both paths side by side), so
// dropped rows beyond that cost more than the copy they save.

// directMaxWaste is the percentage of rows beyond the output pixels that
// the direct path may compute (a variable so that tests can send every
// qualifying shape through the path).
var directMaxWaste = 4

// initDirect takes the direct path if the op qualifies (see above).
func (k *convKernel) initDirect() {
	pointwise := k.kh == 1 && k.kw == 1 && k.sh == 1 && k.sw == 1 && k.pt == 0 && k.pl == 0
	if k.c%4 != 0 || pointwise || !k.g.g.Fused(k.kh) {
		return
	}
	k.hp, k.wp = (k.oh-1)*k.sh+k.kh, (k.ow-1)*k.sw+k.kw
	k.setDirectTiles()
	if k.tilesPerImg*qkernels.MR*100 > k.oh*k.ow*(100+directMaxWaste) {
		k.hp, k.wp, k.dir = 0, 0, qkernels.Direct{}
		return
	}
	k.direct, k.padded = true, true
	k.padRowsFn = k.padRows
}

// setDirectTiles picks the tiling and points the source at this kernel.
func (k *convKernel) setDirectTiles() {
	perRow := (k.ow + qkernels.MR - 1) / qkernels.MR
	k.tilesPerImg, k.virtual = k.oh*perRow, false
	if k.sh == 1 && k.sw == 1 {
		if v := ((k.oh-1)*k.wp + k.ow + qkernels.MR - 1) / qkernels.MR; v < k.tilesPerImg {
			k.tilesPerImg, k.virtual = v, true
		}
	}
	k.dir = qkernels.Direct{Lda: k.sw * k.c, Segs: k.kh, SegStep: k.wp * k.c, Tile: k.directTile}
}

// directSlack is the number of bytes past the padded images that the
// dropped rows of the last tile may read.
func (k *convKernel) directSlack() int { return qkernels.MR * k.sw * k.c }

// directTile returns the offset in the padded copy of tile t's first row
// and sets outs to its rows' output offsets (-1: dropped).
func (k *convKernel) directTile(t int, outs *[qkernels.MR]int) int {
	b, i := t/k.tilesPerImg, t%k.tilesPerImg
	img := b * k.hp * k.wp * k.c
	if k.virtual {
		p0 := i * qkernels.MR
		last := (k.oh-1)*k.wp + k.ow // positions past the last output
		oy, ox := p0/k.wp, p0%k.wp
		for r := range outs {
			outs[r] = -1
			if p0+r < last && ox < k.ow {
				outs[r] = ((b*k.oh+oy)*k.ow + ox) * k.oc
			}
			if ox++; ox == k.wp {
				ox, oy = 0, oy+1
			}
		}
		return img + p0*k.c
	}
	perRow := (k.ow + qkernels.MR - 1) / qkernels.MR
	oy, x0 := i/perRow, i%perRow*qkernels.MR
	for r := range outs {
		outs[r] = -1
		if x0+r < k.ow {
			outs[r] = ((b*k.oh+oy)*k.ow + x0 + r) * k.oc
		}
	}
	return img + (oy*k.sh*k.wp+x0*k.sw)*k.c
}

// runDirect runs the direct path on a batch of n: the padded copy, then
// the product on rows read in place.
func (k *convKernel) runDirect(n int) {
	k.alloc(n) // no-op once Allocate sized it
	k.padR.For(n*k.h, max(1, 4096/(k.w*k.c)), k.padRowsFn)
	k.dir.Src = k.xp
	if err := k.g.g.RunDirect(&k.dir, n*k.tilesPerImg, k.it.i8[k.out]); err != nil {
		panic(err) // the geometry was accepted by initDirect
	}
	k.dir.Src = nil
}
