package qmath

import "math"

// The element-wise functions whose integer form is a lookup table (Table),
// in float64. The float layers (package nn), the runtime's tables (package
// lite) and the QAT model's exact inference (package quantize) all call
// these, so that the function a model is trained with is the one its
// integer form tabulates.

// Sigmoid returns 1/(1+exp(-x)).
func Sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// HardSigmoid returns relu6(x+3)/6 = min(max(x+3, 0), 6)/6, as Keras 3 and
// PyTorch define it (ONNX HardSigmoid with alpha 1/6 and beta 0.5; Keras 2
// used a slope of 0.2).
func HardSigmoid(x float64) float64 { return min(max(x+3, 0), 6) / 6 }

// HardSwish returns x*relu6(x+3)/6, MobileNetV3's h-swish (Keras
// hard_swish, also named hard_silu).
func HardSwish(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 }

// SiLU returns x*sigmoid(x) = x/(1+exp(-x)), also named Swish.
func SiLU(x float64) float64 { return x / (1 + math.Exp(-x)) }
