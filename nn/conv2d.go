package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// Conv2D is a 2-D convolution over NHWC images, like Keras's Conv2D:
//
//	out (N,OH,OW,Filters) = conv(in (N,H,W,C), kernel (KH,KW,C/Groups,Filters)) + bias (Filters)
//
// with taps DilationRate apart and, with Groups > 1, filter f reading only
// the C/Groups input channels of its group f/(Filters/Groups). The
// exported hyper-parameters may be changed after NewConv2D and before
// Build. Forward packs the input with im2col and runs one GEMM per chunk of
// images and channel group (a 1x1, stride 1, unpadded convolution uses the
// input as is).
type Conv2D struct {
	Base
	// Filters is the number of output channels.
	Filters int
	// KernelSize is the window (height, width).
	KernelSize [2]int
	// Strides is the step (vertical, horizontal); default (1, 1).
	Strides [2]int
	// Padding is "valid" (no padding, the default) or "same" (zero padding
	// so that the output is ceil(input/stride), split as TensorFlow does).
	Padding string
	// UseBias adds a learned bias per filter; default true.
	UseBias bool
	// DilationRate is the spacing of the kernel's taps (vertical,
	// horizontal), Keras's dilation_rate; default (1, 1), and 0 counts as
	// 1. A dilation above 1 cannot be combined with a stride above 1 (as in
	// Keras).
	DilationRate [2]int
	// Groups splits the input channels and the filters into this many
	// groups, each convolved with its own slice of the kernel (Keras's
	// groups); default 1, and 0 counts as 1. Filters and input channels
	// must be divisible by it.
	Groups int
	// Kernel holds the weights (KH,KW,C/Groups,Filters) and Bias (Filters)
	// the bias (nil without UseBias), both set by Build.
	Kernel, Bias *Param

	geom   ops.Geom       // built geometry, batch 0
	params []*Param       // Kernel and Bias, after Build
	x      *tensor.Tensor // last Forward's input
	// colFresh is true when col holds the im2col of the last Forward's
	// last chunk (all chunks if colKept), which Backward then uses without
	// recomputing it.
	colFresh, colKept   bool
	out, dIn, col, dCol *tensor.Tensor
	biasScratch         []float32 // BiasGrad's partial sums
	dIns                [1]*tensor.Tensor

	// The running pass of the per-group path (see groupImages), for
	// fwdGroups and bwdGroups, which kernels.ParallelFor runs (method
	// values, so that the calls do not allocate).
	grp                    convGroupPass
	fwdGroupFn, bwdGroupFn func(lo, hi int)
	// The running piece of the kernel gradient (conv2d_dw.go), its part
	// function and its buffer.
	pc       convPiecePass
	pieceFn  func(lo, hi int)
	pieceBuf []float32
	scratch  scratchList // per-thread col / dCol buffers
}

// convGroupPass is what a part of the per-group path needs: the geometry
// with its batch, images per group, the input (Forward) or output
// gradient (Backward), the output, and the kept col matrix (nil if not
// kept).
type convGroupPass struct {
	g        ops.Geom
	per      int
	in, out  []float32
	colAll   []float32
	withBias bool
}

// scratchList is a free list of buffers, one per part running at once, so
// that each thread reuses a buffer that stays in its cache and steady
// state allocates nothing.
type scratchList struct {
	mu   sync.Mutex
	bufs [][]float32
}

// get returns a buffer of n floats (contents undefined).
func (s *scratchList) get(n int) []float32 {
	s.mu.Lock()
	var b []float32
	if k := len(s.bufs); k > 0 {
		b = s.bufs[k-1]
		s.bufs = s.bufs[:k-1]
	}
	s.mu.Unlock()
	if cap(b) < n {
		b = make([]float32, n)
	}
	return b[:n]
}

// put gives a buffer back.
func (s *scratchList) put(b []float32) {
	s.mu.Lock()
	s.bufs = append(s.bufs, b)
	s.mu.Unlock()
}

// convChunkFloats bounds the im2col matrix that Conv2D packs and multiplies
// at a time (a chunk of whole images; at least one image): 2M floats, 8 MB,
// so that a chunk is still in the cache when the GEMM reads it (and dCol
// when col2im reads it) yet each GEMM gets thousands of rows (mnist-cnn at
// batch 128: conv2 packs 12 images of 576 rows, conv1 and conv3 the whole
// batch or 36 images). Measured: packing the whole batch at once made the
// im2col and col2im passes slower (85 MB for conv2, out of the caches), and
// 1-image, L2-sized chunks made the step slower too (per-call GEMM
// overhead). It depends on nothing but the shapes, so neither do the
// results. A variable so that tests can force many chunks.
var convChunkFloats = 1 << 21

// convKeepFloats bounds the im2col matrix of a whole batch that a training
// Forward keeps for Backward. Under it Forward packs the chunks side by
// side (streaming them to memory) and Backward reads them instead of
// packing them again; over it Forward packs every chunk into the same
// buffer and Backward packs all but the last again. 0: never kept. On the
// AMD Zen 5 machine of 2026-12-07 packing again was faster: mnist-cnn's
// conv2 at batch 128 (BenchmarkConv2DKeepCol, three alternating runs
// under load) 69-70 ms per Forward and Backward against 77-97 ms kept, and
// a resnet20 training epoch at batch 128 used 22% less CPU time (7.3-7.8 s
// against 9.2-10.0 s user+system for 1024 images, two alternating runs;
// the kept matrices, 75 MB per layer, cost page faults and memory
// traffic). The results are the same bits either way
// (TestConv2DKeptColSameBits). A variable so that tests can force either.
var convKeepFloats = 0

// conv2DConfig is Conv2D's saved configuration. The dilation and groups
// are left out at their defaults, so that files of convolutions without
// them are those older versions wrote and read.
type conv2DConfig struct {
	Filters      int     `json:"filters"`
	KernelSize   [2]int  `json:"kernel_size"`
	Strides      [2]int  `json:"strides"`
	Padding      string  `json:"padding"`
	UseBias      bool    `json:"use_bias"`
	DilationRate *[2]int `json:"dilation_rate,omitempty"`
	Groups       int     `json:"groups,omitempty"`
}

func init() {
	Register("Conv2D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := conv2DConfig{Strides: [2]int{1, 1}, Padding: "valid", UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: config: %w", spatialLabel(name, "Conv2D"), err)
		}
		l := NewConv2D(cfg.Filters, cfg.KernelSize[0], cfg.KernelSize[1])
		l.SetName(name)
		l.Strides, l.Padding, l.UseBias = cfg.Strides, cfg.Padding, cfg.UseBias
		if cfg.DilationRate != nil {
			l.DilationRate = *cfg.DilationRate
		}
		if cfg.Groups != 0 {
			l.Groups = cfg.Groups
		}
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// NewConv2D returns a Conv2D layer with filters output channels and a kh x
// kw kernel, strides (1, 1), "valid" padding, a bias, no dilation and one
// group.
func NewConv2D(filters, kh, kw int) *Conv2D {
	return &Conv2D{Filters: filters, KernelSize: [2]int{kh, kw}, Strides: [2]int{1, 1}, Padding: "valid", UseBias: true,
		DilationRate: [2]int{1, 1}, Groups: 1}
}

// Type returns "Conv2D".
func (l *Conv2D) Type() string { return "Conv2D" }

// Config returns the layer's hyper-parameters, e.g. {"filters":32,
// "kernel_size":[3,3],"strides":[1,1],"padding":"valid","use_bias":true},
// with "dilation_rate":[2,2] and "groups":4 when they are not 1.
func (l *Conv2D) Config() any {
	cfg := conv2DConfig{Filters: l.Filters, KernelSize: l.KernelSize, Strides: l.Strides, Padding: l.Padding, UseBias: l.UseBias}
	if d := l.Dilation(); d != [2]int{1, 1} {
		cfg.DilationRate = &d
	}
	if g := l.GroupCount(); g != 1 {
		cfg.Groups = g
	}
	return cfg
}

// Dilation returns DilationRate with zeros read as 1.
func (l *Conv2D) Dilation() [2]int { return spatialDilation(l.DilationRate) }

// GroupCount returns Groups, 0 read as 1.
func (l *Conv2D) GroupCount() int { return max(l.Groups, 1) }

// check validates the hyper-parameters.
func (l *Conv2D) check() error {
	label := spatialLabel(l.Name(), l.Type())
	if err := checkConv(label, l.Filters, l.KernelSize, l.Strides, l.Padding); err != nil {
		return err
	}
	if err := spatialCheckDilation(label, l.KernelSize, l.DilationRate, l.Strides); err != nil {
		return err
	}
	if l.Groups < 0 {
		return fmt.Errorf("%s: groups must be positive, got %d", label, l.Groups)
	}
	if g := l.GroupCount(); l.Filters%g != 0 {
		return fmt.Errorf("%s: filters %d are not divisible by groups %d", label, l.Filters, g)
	}
	return nil
}

// checkConv validates a convolution's filters, kernel, strides and padding
// (Conv2D and SeparableConv2D share it).
func checkConv(label string, filters int, kernel, strides [2]int, padding string) error {
	if filters <= 0 {
		return fmt.Errorf("%s: filters must be positive, got %d", label, filters)
	}
	return spatialCheckWindow(label, "kernel_size", kernel, strides, padding)
}

// Build checks that the input is one (H, W, C) image shape that the kernel
// fits, creates the weights (kept if already of the right shape), and
// returns the output shape (OH, OW, Filters).
func (l *Conv2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	label := spatialLabel(l.Name(), l.Type())
	g, err := spatialGeomDilated(label, in, l.KernelSize, l.Strides, l.Dilation(), l.Padding, "kernel")
	if err != nil {
		return nil, err
	}
	groups := l.GroupCount()
	if g.C%groups != 0 {
		return nil, fmt.Errorf("%s: input channels %d are not divisible by groups %d", label, g.C, groups)
	}
	g.G = groups
	l.geom = g
	l.fwdGroupFn, l.bwdGroupFn = l.fwdGroups, l.bwdGroups
	l.pieceFn = l.im2colPiece
	l.Kernel = spatialParam(l.Kernel, "kernel", g.KH, g.KW, g.C/groups, l.Filters)
	l.params = []*Param{l.Kernel}
	l.Bias = nil
	if l.UseBias {
		l.Bias = spatialParam(l.Bias, "bias", l.Filters)
		l.params = append(l.params, l.Bias)
	}
	return tensor.Shape{g.OH, g.OW, l.Filters}, nil
}

// Params returns the kernel and, with UseBias, the bias; nil before Build.
func (l *Conv2D) Params() []*Param { return l.params }

// InitWeights sets Keras's defaults: a Glorot uniform kernel (fan in
// KH*KW*C/Groups, fan out KH*KW*Filters) and a zero bias.
func (l *Conv2D) InitWeights(r *rand.Rand) {
	g := l.geom
	glorotUniform(r, l.Kernel.Value.Data, g.KH*g.KW*g.C/g.Groups(), g.KH*g.KW*l.Filters)
	if l.Bias != nil {
		l.Bias.Value.Zero()
	}
}

// convGatherFloats bounds the dCol matrix that Backward computes and
// gathers (col2im) at a time, per thread: a sub-chunk of images (at least
// one) of at most Threads() x 192K floats, so that each core's share (768
// KB) stays in its 1 MB L2 cache (docs/BENCHMARKS.md) from the GEMM that
// writes it to the col2im that reads it (mnist-cnn at batch 128 on 2
// threads: conv2 two images of 576 rows, conv3 six of 100). The values do
// not depend on it, nor on the thread count: each dCol row is computed on
// its own and each dIn value sums its taps in a fixed order. A variable so
// that tests can change it.
var convGatherFloats = 192 << 10

// gatherImages is how many images Backward turns into dCol and gathers
// at a time.
func (l *Conv2D) gatherImages() int {
	return max(1, convGatherFloats*kernels.Threads()/(l.geom.OutPixels()*l.geom.ColCols()))
}

// convGroupFloats bounds the im2col (Forward) or dCol (Backward) matrix of
// a group of images in the per-group path: 192K floats, 768 KB, so that
// it stays in a core's 1 MB L2 cache from the pass that writes it to the
// GEMM or col2im that reads it. A variable so that tests can change it
// (0 turns the per-group path off).
var convGroupFloats = 192 << 10

// convGroupMinRows is the fewest output pixels per group: with at least
// this many rows every GEMM of the per-group path uses the tile kernels
// (never the row kernels of products with fewer rows than a tile), whose
// arithmetic per element does not depend on the rows around it; so the
// per-group path gives the same bits as the chunked one.
const convGroupMinRows = 16

// groupImages returns how many images the per-group path takes at a time,
// or 0 if the layer uses the chunked path for a batch of n. In the
// per-group path, Forward and the input gradient of Backward split the
// batch into groups of whole images, and each thread takes whole groups
// through im2col, the GEMM and the bias (Forward) or the dCol GEMM and
// col2im (Backward) alone, in buffers that stay in its cache, with one
// hand-off between threads per pass instead of two per chunk. It needs
// at least two groups, and each output pixel's values are computed as in
// the chunked path (see convGroupMinRows): the choice depends on the
// shapes only, and the results do not depend on it.
func (l *Conv2D) groupImages(n int) int {
	g := l.geom
	P, K := g.OutPixels(), g.ColCols()
	if P < convGroupMinRows || g.IsPointwise() || convGroupFloats <= 0 {
		return 0
	}
	per := max(1, convGroupFloats/(P*K))
	if per*2 > n {
		return 0
	}
	return per
}

// chunkImages is how many images Forward and Backward pack at a time.
func (l *Conv2D) chunkImages() int {
	return max(1, convChunkFloats/(l.geom.OutPixels()*l.geom.ColCols()))
}

// Forward computes the convolution of in[0] (N,H,W,C) into (N,OH,OW,F):
// per chunk of images, col = im2col(in) then out = col x kernel (+ bias);
// or, in the per-group path (see groupImages), the same per group of
// images, each thread taking whole groups (fwdGroups).
func (l *Conv2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, l.geom)
	g := l.geom.WithBatch(x.Shape[0])
	F, K, P := l.Filters, g.ColCols(), g.OutPixels()
	out := tensor.Ensure(&l.out, g.N, g.OH, g.OW, F)
	l.x = x
	if g.IsPointwise() {
		// (N*H*W, C) x (C, F): the input is its own col matrix.
		l.mulKernel(false, g.N*P, x.Data, out.Data)
		if l.Bias != nil {
			ops.BiasAdd(out.Data, g.N*P, F, l.Bias.Value.Data)
		}
		return out
	}
	// Only a training pass keeps the whole batch's col matrix.
	keep := c != nil && c.Training && g.N*P*K <= convKeepFloats
	if per := l.groupImages(g.N); per > 0 {
		l.colKept, l.colFresh = keep, keep
		l.grp = convGroupPass{g: g, per: per, in: x.Data, out: out.Data, withBias: l.Bias != nil}
		if keep {
			l.grp.colAll = tensor.Ensure(&l.col, g.N*P*K).Data
		}
		kernels.ParallelFor((g.N+per-1)/per, 1, l.fwdGroupFn)
		l.grp = convGroupPass{}
		return out
	}
	ci := l.chunkImages()
	// Only a training pass keeps the whole batch's col matrix: inference
	// packs each chunk into one cache-resident buffer (a Backward after it
	// still works: it packs the chunks again).
	l.colKept = keep
	var colAll []float32
	if l.colKept {
		colAll = tensor.Ensure(&l.col, g.N*P*K).Data
	} else {
		colAll = tensor.Ensure(&l.col, min(ci, g.N)*P*K).Data
	}
	for n0 := 0; n0 < g.N; n0 += ci {
		n1 := min(n0+ci, g.N)
		rows := (n1 - n0) * P
		col := colAll
		if l.colKept {
			col = colAll[n0*P*K : n1*P*K]
		}
		if l.colKept {
			ops.Im2colStream(g, x.Data, col, n0, n1)
		} else {
			convIm2col(g, x.Data, col, n0, n1)
		}
		o := out.Data[n0*P*F : n1*P*F]
		l.mulKernel(false, rows, col, o)
		if l.Bias != nil {
			ops.BiasAdd(o, rows, F, l.Bias.Value.Data)
		}
	}
	l.colFresh = true
	return out
}

// fwdGroups runs Forward's per-group path for groups [lo, hi): per group
// of images, col = im2col(in) in this thread's buffer, out = col x kernel
// (+ bias), and, when the col matrix is kept for Backward, a streaming
// copy of col into it.
func (l *Conv2D) fwdGroups(lo, hi int) {
	p := &l.grp
	g, F := p.g, l.Filters
	P, K := g.OutPixels(), g.ColCols()
	buf := l.scratch.get(p.per * P * K)
	for grp := lo; grp < hi; grp++ {
		n0, n1 := grp*p.per, min((grp+1)*p.per, g.N)
		rows := (n1 - n0) * P
		col := buf[:rows*K]
		convIm2colSerial(g, p.in, col, n0, n1)
		o := p.out[n0*P*F : n1*P*F]
		l.mulKernel(true, rows, col, o)
		if p.withBias {
			ops.BiasAddSerial(o, rows, F, l.Bias.Value.Data)
		}
		if p.colAll != nil {
			kernels.CopyRowsNT(p.colAll[n0*P*K:n1*P*K], col, 1, rows*K, rows*K, rows*K)
		}
	}
	l.scratch.put(buf)
}

// Backward computes, per chunk of images (last chunk first, whose col
// matrix Forward left in the buffer, as it left all of them if it kept the
// whole batch's):
//
//	dKernel (K,F) += col^T (K,rows) x dOut (rows,F)   K = KH*KW*C
//	dCol (rows,K)  = dOut (rows,F) x kernel^T (F,K);  dIn = col2im(dCol)
//
// (dCol and col2im a cache-sized sub-chunk of images at a time, see
// convGatherFloats, or in the per-group path each thread whole groups of
// images, see bwdGroups) and dBias = column sums of dOut. Chunks are fixed
// by the shapes, so the sums do not depend on the thread count.
func (l *Conv2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	l.dIns[0] = l.backward(dOut, true)
	return l.dIns[:]
}

// backwardParams is Backward without the input gradient (no dCol GEMM, no
// col2im): the model executor calls it when the layer's input is a model
// input, whose gradient nobody reads. The kernel and bias gradients are
// those of Backward, bit for bit; the returned input gradient is nil.
func (l *Conv2D) backwardParams(dOut *tensor.Tensor) []*tensor.Tensor {
	l.backward(dOut, false)
	l.dIns[0] = nil
	return l.dIns[:]
}

// backward computes the parameter gradients and, if needIn, returns dIn.
func (l *Conv2D) backward(dOut *tensor.Tensor, needIn bool) *tensor.Tensor {
	x := spatialLastInput(l, l.x)
	g := l.geom.WithBatch(x.Shape[0])
	F, K, P := l.Filters, g.ColCols(), g.OutPixels()
	spatialCheckGrad(l, dOut, g.N, g.OH, g.OW, F)
	var dIn *tensor.Tensor
	if needIn {
		dIn = tensor.Ensure(&l.dIn, g.N, g.H, g.W, g.C)
	}
	dW := l.Kernel.Grad.Data
	if l.Bias != nil {
		l.biasScratch = spatialScratch(l.biasScratch, ops.BiasGradScratchSize(g.N*P, F))
		ops.BiasGrad(dOut.Data, g.N*P, F, l.Bias.Grad.Data, l.biasScratch)
	}
	if g.IsPointwise() {
		l.kernelGrad(g.N*P, x.Data, dOut.Data, 0, dW)
		if needIn {
			l.colGrad(false, g.N*P, dOut.Data, dIn.Data)
		}
		return dIn
	}
	ci := l.chunkImages()
	kept := l.colFresh && l.colKept && len(l.col.Data) == g.N*P*K
	var colAll []float32
	switch {
	case kept:
		colAll = l.col.Data
	case l.colFresh || !l.kernelGradPieced(g):
		// The pieced kernel gradient packs into its own cache-sized
		// buffer: the chunk-sized one is needed only otherwise.
		colAll = tensor.Ensure(&l.col, min(ci, g.N)*P*K).Data
	}
	per := l.groupImages(g.N)
	var dCol []float32
	si := l.gatherImages()
	if needIn && per == 0 {
		dCol = tensor.Ensure(&l.dCol, min(si, g.N)*P*K).Data
	}
	last := (g.N - 1) / ci * ci // first image of the last chunk
	for n0 := last; n0 >= 0; n0 -= ci {
		n1 := min(n0+ci, g.N)
		rows := (n1 - n0) * P
		col := colAll
		d := dOut.Data[n0*P*F : n1*P*F]
		var beta float32
		if n0 != last {
			beta = 1
		}
		switch {
		case kept:
			l.kernelGrad(rows, colAll[n0*P*K:n1*P*K], d, beta, dW)
		case n0 == last && l.colFresh:
			l.kernelGrad(rows, col, d, beta, dW)
		case l.kernelGradPieced(g):
			l.kernelGradPieces(g, x.Data, n0, n1, d, beta, dW)
		default:
			convIm2col(g, x.Data, col, n0, n1)
			l.kernelGrad(rows, col, d, beta, dW)
		}
		if !needIn || per > 0 {
			continue
		}
		// dCol and col2im in sub-chunks small enough that col2im reads
		// dCol from the cache the GEMM left it in.
		for s0 := n0; s0 < n1; s0 += si {
			s1 := min(s0+si, n1)
			l.colGrad(false, (s1-s0)*P, dOut.Data[s0*P*F:s1*P*F], dCol)
			convCol2im(g, dCol, dIn.Data, s0, s1)
		}
	}
	if needIn && per > 0 {
		l.grp = convGroupPass{g: g, per: per, in: dOut.Data, out: dIn.Data}
		kernels.ParallelFor((g.N+per-1)/per, 1, l.bwdGroupFn)
		l.grp = convGroupPass{}
	}
	l.colFresh = false
	return dIn
}

// bwdGroups computes the input gradient of Backward's per-group path for
// groups [lo, hi): per group of images, dCol = dOut x kernel^T in this
// thread's buffer, then dIn = col2im(dCol).
func (l *Conv2D) bwdGroups(lo, hi int) {
	p := &l.grp
	g, F := p.g, l.Filters
	P, K := g.OutPixels(), g.ColCols()
	buf := l.scratch.get(p.per * P * K)
	for grp := lo; grp < hi; grp++ {
		n0, n1 := grp*p.per, min((grp+1)*p.per, g.N)
		rows := (n1 - n0) * P
		dCol := buf[:rows*K]
		l.colGrad(true, rows, p.in[n0*P*F:n1*P*F], dCol)
		convCol2imSerial(g, dCol, p.out, n0, n1)
	}
	l.scratch.put(buf)
}

// The products of a convolution with G channel groups (the col matrix in
// group-major order, see ops.Im2col): K = KH*KW*C columns, of which group
// g owns the Kg = K/G from g*Kg; its Fg = F/G filters are kernel columns
// g*Fg .. (g+1)*Fg-1 of the (Kg, F) kernel. With one group each is the
// single product it always was.

// sgemmOf returns kernels.SgemmSerial if serial, else kernels.Sgemm.
func sgemmOf(serial bool) func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if serial {
		return kernels.SgemmSerial
	}
	return kernels.Sgemm
}

// mulKernel computes out (rows, F) = col (rows, K) x kernel, group by group:
// out[:, g*Fg:] = col[:, g*Kg:] x kernel[:, g*Fg:].
func (l *Conv2D) mulKernel(serial bool, rows int, col, out []float32) {
	F, K, G := l.Filters, l.geom.ColCols(), l.geom.Groups()
	w, gemm := l.Kernel.Value.Data, sgemmOf(serial)
	if G == 1 {
		gemm(false, false, rows, F, K, 1, col, K, w, F, 0, out, F)
		return
	}
	kg, fg := K/G, F/G
	for g := 0; g < G; g++ {
		gemm(false, false, rows, fg, kg, 1, col[g*kg:], K, w[g*fg:], F, 0, out[g*fg:], F)
	}
}

// kernelGrad computes dW (Kg, F) = col^T x d + beta*dW, group by group:
// dW[:, g*Fg:] = col[:, g*Kg:]^T x d[:, g*Fg:]; col (rows, K), d (rows, F).
func (l *Conv2D) kernelGrad(rows int, col, d []float32, beta float32, dW []float32) {
	F, K, G := l.Filters, l.geom.ColCols(), l.geom.Groups()
	if G == 1 {
		kernels.Sgemm(true, false, K, F, rows, 1, col, K, d, F, beta, dW, F)
		return
	}
	kg, fg := K/G, F/G
	for g := 0; g < G; g++ {
		kernels.Sgemm(true, false, kg, fg, rows, 1, col[g*kg:], K, d[g*fg:], F, beta, dW[g*fg:], F)
	}
}

// colGrad computes dCol (rows, K) = d (rows, F) x kernel^T, group by group:
// dCol[:, g*Kg:] = d[:, g*Fg:] x kernel[:, g*Fg:]^T.
func (l *Conv2D) colGrad(serial bool, rows int, d, dCol []float32) {
	F, K, G := l.Filters, l.geom.ColCols(), l.geom.Groups()
	w, gemm := l.Kernel.Value.Data, sgemmOf(serial)
	if G == 1 {
		gemm(false, true, rows, K, F, 1, d, F, w, F, 0, dCol, K)
		return
	}
	kg, fg := K/G, F/G
	for g := 0; g < G; g++ {
		gemm(false, true, rows, kg, fg, 1, d[g*fg:], F, w[g*fg:], F, 0, dCol[g*kg:], K)
	}
}

// Helpers shared by the convolution and pooling layers.

// spatialLabel names a layer in error messages: its name, or its type if
// it has none yet.
func spatialLabel(name, typ string) string {
	if name == "" {
		return typ
	}
	return name
}

// spatialCheckWindow validates a window size, strides and padding.
func spatialCheckWindow(label, what string, size, strides [2]int, padding string) error {
	if size[0] <= 0 || size[1] <= 0 {
		return fmt.Errorf("%s: %s must be positive, got %dx%d", label, what, size[0], size[1])
	}
	if strides[0] <= 0 || strides[1] <= 0 {
		return fmt.Errorf("%s: strides must be positive, got %dx%d", label, strides[0], strides[1])
	}
	if padding != "valid" && padding != "same" {
		return fmt.Errorf("%s: padding must be \"valid\" or \"same\", got %q", label, padding)
	}
	// Bounded so that the geometry's arithmetic cannot overflow
	// (docs/RELIABILITY.md, Resource bounds).
	if max(size[0], size[1], strides[0], strides[1]) > bounds.MaxExtent {
		return fmt.Errorf("%s: %s %dx%d with strides %dx%d: at most %d each", label, what, size[0], size[1], strides[0], strides[1], bounds.MaxExtent)
	}
	return nil
}

// spatialDilation returns a dilation rate with zeros read as 1.
func spatialDilation(d [2]int) [2]int { return [2]int{max(d[0], 1), max(d[1], 1)} }

// spatialCheckDilation validates a dilation rate (zeros count as 1) for a
// kernel (the dilated kernel must span at most 2^30 pixels) and its
// combination with the strides: as in Keras, a dilation above 1 cannot go
// with a stride above 1.
func spatialCheckDilation(label string, kernel, dilation, strides [2]int) error {
	if dilation[0] < 0 || dilation[1] < 0 {
		return fmt.Errorf("%s: dilation_rate must be positive, got %dx%d", label, dilation[0], dilation[1])
	}
	d := spatialDilation(dilation)
	for i := range d {
		if k := kernel[i] - 1; k > 0 && d[i] > (1<<30)/k {
			return fmt.Errorf("%s: kernel %dx%d dilated %dx%d is too large", label, kernel[0], kernel[1], d[0], d[1])
		}
	}
	if (d[0] > 1 || d[1] > 1) && (strides[0] > 1 || strides[1] > 1) {
		return fmt.Errorf("%s: strides %dx%d with dilation_rate %dx%d: a dilation above 1 cannot be combined with a stride above 1", label, strides[0], strides[1], d[0], d[1])
	}
	return nil
}

// spatialImage checks that in is one valid (H, W, C) shape.
func spatialImage(label string, in []tensor.Shape) (h, w, c int, err error) {
	if len(in) != 1 {
		return 0, 0, 0, fmt.Errorf("%s: expects 1 input, got %d", label, len(in))
	}
	s := in[0]
	if len(s) != 3 {
		return 0, 0, 0, fmt.Errorf("%s: input shape %v must be rank 3 (height, width, channels)", label, s)
	}
	if err := s.Valid(); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: input %w", label, err)
	}
	return s[0], s[1], s[2], nil
}

// spatialGeom checks the input shape against a window and returns the
// geometry (batch 0). what names the window in errors ("kernel", "pool").
func spatialGeom(label string, in []tensor.Shape, size, strides [2]int, padding, what string) (ops.Geom, error) {
	h, w, c, err := spatialImage(label, in)
	if err != nil {
		return ops.Geom{}, err
	}
	same := padding == "same"
	if !same && (h < size[0] || w < size[1]) {
		return ops.Geom{}, fmt.Errorf("%s: input %v is smaller than %s %dx%d with padding %q", label, in[0], what, size[0], size[1], padding)
	}
	return ops.NewGeom(0, h, w, c, size[0], size[1], strides[0], strides[1], same), nil
}

// spatialGeomDilated is spatialGeom for a window whose taps are dilation
// apart (zeros read as 1): 'valid' padding needs the dilated window,
// (size-1)*dilation+1, to fit.
func spatialGeomDilated(label string, in []tensor.Shape, size, strides, dilation [2]int, padding, what string) (ops.Geom, error) {
	d := spatialDilation(dilation)
	if d == [2]int{1, 1} {
		g, err := spatialGeom(label, in, size, strides, padding, what)
		g.DH, g.DW = 1, 1
		return g, err
	}
	h, w, c, err := spatialImage(label, in)
	if err != nil {
		return ops.Geom{}, err
	}
	eh, ew := ops.DilatedSize(size[0], d[0]), ops.DilatedSize(size[1], d[1])
	same := padding == "same"
	if !same && (h < eh || w < ew) {
		return ops.Geom{}, fmt.Errorf("%s: input %v is smaller than %s %dx%d dilated %dx%d (%dx%d) with padding %q",
			label, in[0], what, size[0], size[1], d[0], d[1], eh, ew, padding)
	}
	return ops.NewGeomDilated(0, h, w, c, size[0], size[1], strides[0], strides[1], d[0], d[1], same), nil
}

// spatialParam returns p if it already has the given shape (a rebuilt layer
// keeps its weights), or a new trainable parameter.
func spatialParam(p *Param, name string, shape ...int) *Param {
	if p != nil && p.Value.Shape.Equal(shape) && p.Grad != nil {
		return p
	}
	return NewParam(name, true, shape...)
}

// spatialScratch returns s resized to n values, reallocated only if its
// capacity is too small.
func spatialScratch(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// spatialInputTensor returns the single (N,H,W,C) input of a built layer,
// panicking (a programming error: models check shapes at Build) if it does
// not match the built geometry.
func spatialInputTensor(l Layer, in []*tensor.Tensor, g ops.Geom) *tensor.Tensor {
	if len(in) != 1 {
		panic(fmt.Sprintf("%s: Forward with %d inputs, want 1", spatialLabel(l.Name(), l.Type()), len(in)))
	}
	x := in[0]
	if g.H == 0 {
		panic(fmt.Sprintf("%s: Forward before Build", spatialLabel(l.Name(), l.Type())))
	}
	if len(x.Shape) != 4 || x.Shape[1] != g.H || x.Shape[2] != g.W || x.Shape[3] != g.C {
		panic(fmt.Sprintf("%s: input shape %v, built for (N, %d, %d, %d)", spatialLabel(l.Name(), l.Type()), x.Shape, g.H, g.W, g.C))
	}
	return x
}

// spatialLastInput returns x, the input of the last Forward, panicking if
// there was none (Backward before Forward is a programming error).
func spatialLastInput(l Layer, x *tensor.Tensor) *tensor.Tensor {
	if x == nil {
		panic(fmt.Sprintf("%s: Backward before Forward", spatialLabel(l.Name(), l.Type())))
	}
	return x
}

// spatialCheckGrad panics if dOut is not (n, oh, ow, c) (a programming
// error).
func spatialCheckGrad(l Layer, dOut *tensor.Tensor, n, oh, ow, c int) {
	if !dOut.Shape.Equal(tensor.Shape{n, oh, ow, c}) {
		panic(fmt.Sprintf("%s: Backward with dOut %v, want %v", spatialLabel(l.Name(), l.Type()), dOut.Shape, tensor.Shape{n, oh, ow, c}))
	}
}
