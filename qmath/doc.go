// Package qmath is goqat's integer numerics, the bottom of the dependency
// graph: training (package quantize), conversion (package convert), the
// integer runtime (package lite) and the int8 kernels (internal/qkernels)
// all import it, so that a scale, a rounding or a requantization is
// computed by one function wherever it is used (docs/DESIGN.md, Numerics).
//
// It holds:
//
//   - quantization parameters: QRange, Params (a real range to a scale and
//     zero point, nudged so that zero is exact);
//   - quantization: Grid (round half to even in float32, as fake quant and
//     the runtime's Quantize op compute it), QuantizeValue, QuantizeInt8,
//     Dequantize;
//   - requantization: Multiplier (an int32 mantissa and a shift),
//     Requantize, CommonMultipliers, RoundShift, QuantizeBias;
//   - fused activations as clamps (ActivationRange), exact integer
//     division (DivRoundEven), and 256-entry lookup tables (Table).
//
// The affine mapping is real = scale * (q - zeroPoint).
package qmath
