//go:build amd64 && !noasm

package kernels

// The AVX-512F bodies of the folded passes (fq_fold.go). Each computes the
// channels [0, cv) of a (rows, ld) matrix, cv a positive multiple of 16 and
// rows positive, 16 channels per step, with the operations of the Go loops
// in the same order and no fused multiply-add, so that the results are
// those of the Go loops bit for bit. qc points at FoldParams' QScale,
// QInv, QLo, QHi; flag holds FoldParams.Act in bits 0-1, Quant in bit 2
// and (f32FoldGradAVX512) "frozen, k1, k2, k3 not read" in bit 3. u, a and
// quant are FoldParams' chain (fq_fold.go: unfold1, act1, quant1) and
// mask1 its gradient mask.

// f64FoldStatsAVX512 adds to s and q and narrows lo and hi (cv values
// each):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			u := z[r*ld+j]*inv[j] + bias[j]
//			d := float64(u) - shift[j]
//			s[j] += d
//			q[j] += d * d
//			if u < lo[j] {
//				lo[j] = u
//			}
//			if u > hi[j] {
//				hi[j] = u
//			}
//		}
//	}
//
//go:noescape
func f64FoldStatsAVX512(z *float32, rows, ld, cv int, inv, bias *float32, shift, s, q *float64, lo, hi *float32)

// f32FoldForwardAVX512 writes:
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			a := act((z[r*ld+j]*inv[j]+bias[j]-center[j])*scale[j] + beta[j])
//			if quant {
//				a = quant(a)
//			}
//			out[r*ld+j] = a
//		}
//	}
//
//go:noescape
func f32FoldForwardAVX512(z, out *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int)

// f64FoldGradSumsAVX512 adds to s and q (cv values each):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			u := z[r*ld+j]*inv[j] + bias[j]
//			g := float64(mask1(dy[r*ld+j], act((u-center[j])*scale[j] + beta[j])))
//			s[j] += g
//			q[j] += g * (float64(u) - center64[j])
//		}
//	}
//
//go:noescape
func f64FoldGradSumsAVX512(z, dy *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int, center64, s, q *float64)

// f32FoldGradAVX512 writes dz and adds to s1 and s2 (cv values each):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			u := z[r*ld+j]*inv[j] + bias[j]
//			g := mask1(dy[r*ld+j], act((u-center[j])*scale[j] + beta[j]))
//			if frozen {
//				dz[r*ld+j] = g
//			} else {
//				g = k1[j]*g + k2[j]*(u-center[j]) + k3[j]
//				dz[r*ld+j] = g * inv[j]
//			}
//			s1[j] += float64(g)
//			s2[j] += float64(g) * float64(z[r*ld+j])
//		}
//	}
//
//go:noescape
func f32FoldGradAVX512(z, dy, dz *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int, k1, k2, k3 *float32, s1, s2 *float64)
