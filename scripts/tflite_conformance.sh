#!/usr/bin/env bash
# TFLite conformance: goqat's .tflite exports against TensorFlow Lite's own
# interpreter.
#
#   scripts/tflite_conformance.sh
#
# Installs @tensorflow/tfjs-tflite 0.0.1-alpha.10 (TFLite's interpreter
# compiled to WebAssembly) with @tensorflow/tfjs-core and
# @tensorflow/tfjs-backend-cpu 4.9.0 (npm install --ignore-scripts) into
# ${GOQAT_CACHE:-$HOME/.cache/goqat}/tflite once, then runs, through
# scripts/tflite_run.js (a Node shim of the browser globals the package
# expects, single-threaded SIMD build):
#   TestConformance: every built-in network (mlp, mnist-cnn and mobilenet-tiny
#     trained briefly on MNIST, the others post-training quantized at reduced
#     inputs) exported with int8 edges and run on the same int8 inputs in
#     TFLite and in goqat, in goqat's rounding and in rounding tflite
#     (lite.RoundingTFLite); identical output codes and top-1 are reported,
#     gated in rounding tflite at every value of every network, in goqat's
#     rounding (>= 99.99% of values, >= 99.9% top-1) for mlp and mnist-cnn;
#     the same integer models with float edges (QUANTIZE/DEQUANTIZE) on the
#     float images, every output value identical in rounding tflite;
#     the float models exported with FLOAT32 tensors, every output within
#     1e-5 of its row maximum;
#   TestConformanceOps: every op of those networks and of hand-made models
#     of the other ops, fed goqat's values of its inputs, in both roundings;
#     in rounding tflite every value of the networks' ops must be identical
#     (the op models: all but one depthwise convolution that TFLite's
#     runtime leaves to its builtin kernel), in goqat's rounding each op
#     type on >= 99.99% of values (average pools: at most one step apart,
#     ties rounding differently; docs/tflite.md);
#   TestConformanceLSTM: hand-made integer LSTMs (UNIDIRECTIONAL_SEQUENCE_LSTM)
#     on 8 random int8 sequences each, every value identical in rounding
#     tflite;
#   TestConformanceEmbedding: an Embedding (CAST and GATHER) into an LSTM on 16
#     random sequences of whole indices, every value identical in rounding
#     tflite;
#   TestConformanceSeq: lstm-rowmnist and conv1d-rowmnist (one short epoch on
#     1,000 MNIST images, post-training quantized) on 16 MNIST test images,
#     every value identical in rounding tflite; goqat's rounding and the QAT
#     model's top-1 against TFLite reported. Stateful models run a fresh
#     interpreter per sample.
# GOQAT_TFLITE_NETS=mlp,mnist-cnn limits both tests to those networks.
# Without node, or when npm cannot install the packages, it skips (exit 0)
# with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "tflite conformance: SKIPPED: node is not installed"
  exit 0
fi
DIR="${GOQAT_CACHE:-$HOME/.cache/goqat}/tflite"
PKG=@tensorflow/tfjs-tflite
VERSION=0.0.1-alpha.10
if ! node -e "process.exit(require('$DIR/node_modules/$PKG/package.json').version === '$VERSION' ? 0 : 1)" 2>/dev/null; then
  echo "installing $PKG@$VERSION, @tensorflow/tfjs-core@4.9.0, @tensorflow/tfjs-backend-cpu@4.9.0 into $DIR"
  mkdir -p "$DIR"
  if ! timeout 300 npm install --prefix "$DIR" --ignore-scripts --legacy-peer-deps --no-audit --no-fund --loglevel=error \
      "$PKG@$VERSION" @tensorflow/tfjs-core@4.9.0 @tensorflow/tfjs-backend-cpu@4.9.0 >/dev/null; then
    echo "tflite conformance: SKIPPED: npm could not install $PKG (registry unreachable?)"
    exit 0
  fi
fi

start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
GOQAT_TFLITE_DIR="$DIR" GOQAT_TFLITE_CONFORMANCE=1 go test -count=1 -v -run '^(TestConformance|TestConformanceOps|TestConformanceLSTM|TestConformanceEmbedding|TestConformanceSeq)$' ./format/tflite >"$log" 2>&1 || status=$?
echo "tflite conformance ($PKG $VERSION, $(date -u +%Y-%m-%d)):"
grep -E 'samples: values identical|embedding+LSTM|goqat rounding [0-9]+/|QAT vs TFLite|float [^ ]+: [0-9]+ samples|float edges|op [A-Za-z0-9]+ +identical|--- (FAIL|SKIP)|conformance_test.go:[0-9]+: (values|top-1)|want' "$log" \
  | sed 's/^ *[a-z_]*_test.go:[0-9]*: /  /' || true
if [ $status != 0 ]; then
  echo "tflite conformance: FAILED"
  tail -30 "$log"
fi
echo "tflite conformance: $(( $(date +%s) - start )) s"
exit $status
