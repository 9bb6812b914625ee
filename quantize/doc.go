// Package quantize is goqat's quantization-aware training (QAT) API, the Go
// counterpart of tfmot.quantization.keras:
//
//   - Model (tfmot quantize_model) turns a float nn.Model into a new,
//     trainable model with fake quantization inserted per a scheme; the float
//     model is left untouched. Apply (quantize_apply) quantizes only the
//     layers annotated with AnnotateLayer or Annotate; Apply(m,
//     AnnotateModel(m)) (quantize_annotate_model) equals Model(m).
//   - QuantizeConfig tells Model how to quantize a custom layer (or to
//     override a built-in one): which weights get which quantizer, and the
//     output's quantizer.
//   - Quantizers: LastValue (weights), MovingAverage (activations),
//     AllValues (model input), LSQ (learned step size) and Fixed
//     (softmax/sigmoid/tanh outputs), described by a serialisable Spec.
//   - Schemes: one parameterised scheme NBit{WeightBits, ActivationBits,
//     PerAxis, LSQ, PerGate}; Default8Bit is NBit{8, 8, true, false,
//     false}. PerGate quantizes the recurrent layers' kernels per gate
//     matrix (what TFLite's integer LSTM takes).
//   - FineTune is the whole recipe in one call: Model, calibration, then
//     fine-tuning with Adam and a cosine schedule, BN frozen half way.
//   - Each QAT layer states its integer form (Lowerer, Lower); package
//     convert walks a model with it.
//
// The numerics follow docs/DESIGN.md, Numerics: real = scale*(q - zeroPoint), the
// range nudged so that zero is exact, weights symmetric narrow-range per
// output channel, activations asymmetric per tensor, rounding half to even.
// Every scale and zero point is computed by qmath.Params, which conversion
// and export call too.
//
// The QAT model is made of registered nn layer types (QuantizeWrapper,
// QuantizeInput, FoldedConvBN), so it saves and loads with nn.Save and
// nn.Load (quantizer state included: ranges, EMA, step sizes), trains with
// Model.Fit and evaluates with Model.Evaluate in fake-quant mode. Every
// model links its QAT layers when built or loaded (Link, nn.Linker), so
// that in inference mode it computes exactly what its integer model
// computes.
package quantize
