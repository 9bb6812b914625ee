#!/usr/bin/env bash
# The point of QAT, measured: for each model, float training on Fashion-MNIST,
# then at W4A8 and W2A8: post-training quantization (no fine-tune), QAT with
# min/max ranges, and QAT with learned step sizes (LSQ), one QAT epoch each.
# Prints a Markdown table; results in $OUT (default /tmp/goqat-qat-grid).
# Usage: scripts/qat_grid.sh [float-epochs] [qat-epochs] [models...]
set -euo pipefail
cd "$(dirname "$0")/.."
fe=${1:-5}; qe=${2:-1}; shift 2 || true
models=${*:-mnist-cnn mobilenet-tiny}
OUT=${OUT:-/tmp/goqat-qat-grid}
mkdir -p "$OUT"
go build -o "$OUT/goqat" ./cmd/goqat
g="$OUT/goqat"
for m in $models; do
  f="$OUT/$m.float.safetensors"
  [ -s "$f" ] || "$g" train --model "$m" --data fashion --epochs "$fe" --verbose 2 --out "$f"
  "$g" eval --model "$f" --data fashion --json "$OUT/$m.float.json" >/dev/null
  for s in w4a8 w2a8; do
    "$g" quantize --in "$f" --data fashion --scheme "$s" --epochs "$qe" --verbose 2 \
      --out "$OUT/$m.$s.qat.safetensors" --json "$OUT/$m.$s.minmax.json"
    "$g" quantize --in "$f" --data fashion --scheme "$s" --lsq --epochs "$qe" --verbose 2 \
      --out "$OUT/$m.$s.lsq.safetensors" --json "$OUT/$m.$s.lsq.json"
  done
done
/usr/bin/env python3 - "$OUT" $models <<'PY'
import json, sys
out, models = sys.argv[1], sys.argv[2:]
print("| model | scheme | float | PTQ | QAT min/max | QAT LSQ |")
print("| --- | --- | --- | --- | --- | --- |")
for m in models:
    fl = json.load(open(f"{out}/{m}.float.json"))["accuracy"]
    for s in ("w4a8", "w2a8"):
        mm = json.load(open(f"{out}/{m}.{s}.minmax.json"))
        ls = json.load(open(f"{out}/{m}.{s}.lsq.json"))
        ptq = mm.get("ptq_accuracy")
        print(f"| {m} | {s.upper()} | {100*fl:.2f}% | {100*ptq:.2f}% | {100*mm['qat_accuracy']:.2f}% | {100*ls['qat_accuracy']:.2f}% |")
PY
