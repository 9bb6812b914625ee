#!/usr/bin/env bash
# QAT model versus integer model on whole test sets: for each model, dataset
# and scheme, fine-tune a QAT model (one epoch from the float model), convert
# it, and compare the two on all 10,000 test images (top-1, output codes) and
# their accuracies. Float models are trained if missing (2 epochs on MNIST,
# 5 on Fashion-MNIST). Results in $OUT (default /tmp/goqat-agreement).
# Usage: scripts/agreement_grid.sh [models...]
set -euo pipefail
cd "$(dirname "$0")/.."
models=${*:-mnist-cnn mobilenet-tiny}
OUT=${OUT:-/tmp/goqat-agreement}
mkdir -p "$OUT"
go build -o "$OUT/goqat" ./cmd/goqat
g="$OUT/goqat"
for m in $models; do
  for d in mnist fashion; do
    f="$OUT/$m.$d.float.safetensors"
    ep=2; [ "$d" = fashion ] && ep=5
    [ -s "$f" ] || "$g" train --model "$m" --data "$d" --epochs "$ep" --verbose 2 --out "$f"
    for s in 8bit w4a8; do
      q="$OUT/$m.$d.$s.qat.safetensors"
      [ -s "$q" ] || "$g" quantize --in "$f" --data "$d" --scheme "$s" --epochs 1 --verbose 2 --out "$q"
      "$g" convert --in "$q" --out "$OUT/$m.$d.$s.int8.safetensors" >/dev/null
      qa=$("$g" eval --model "$q" --data "$d" | sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p')
      ia=$("$g" eval --model "$OUT/$m.$d.$s.int8.safetensors" --data "$d" | sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p')
      ag=$(GOQAT_DATA=$d GOQAT_QAT_FILES=$q go test -count 1 -run TestAgreementFiles -v -timeout 30m ./lite 2>&1 \
        | sed -n 's/.*10000 inputs: \(.*\)/\1/p' | head -1)
      echo "| $m | $d | $s | $qa% | $ia% | $ag |" | tee -a "$OUT/table.md"
    done
  done
done
