#!/usr/bin/env bash
# The first ten minutes, checked: a fresh clone, with an empty GOPATH and
# module cache (the module proxy reachable), runs the README's two commands.
#
#   scripts/fresh_clone_check.sh           the README's commands as they are:
#                                          `go run ./cmd/goqat demo`, then
#                                          `go test ./...`; checks float
#                                          accuracy >= 98.8%, int8 within 0.1
#                                          point of float, both PNGs written
#   scripts/fresh_clone_check.sh --short   a short demo (1 epoch on 3,000
#                                          images), no go test: checks that
#                                          everything installs, runs and writes
#                                          its files (CI runs this form)
#
# It clones the committed state of this repository, so uncommitted changes
# are not checked.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
short=0
[ "${1:-}" = "--short" ] && short=1

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/goqat"
export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod"
cd "$work/goqat"

if [ "$short" = 1 ]; then
  go run ./cmd/goqat demo --epochs 1 --train-limit 3000 --test-limit 1000 --out "$work/demo" --verbose 2
else
  go run ./cmd/goqat demo --out "$work/demo"
fi

for f in float.safetensors qat.safetensors model.int8.safetensors results.json curves.png layers.png; do
  test -s "$work/demo/$f" || { echo "fresh clone check: the demo did not write $f"; exit 1; }
done

# Accuracy (fractions in results.json).
key() { sed -n "s/^ *\"$1\": \([0-9.]*\),*\$/\1/p" "$work/demo/results.json"; }
facc=$(key float_accuracy)
iacc=$(key int8_accuracy)
[ -n "$facc" ] && [ -n "$iacc" ] || { echo "fresh clone check: no accuracies in results.json"; exit 1; }
echo "fresh clone check: float accuracy $facc, int8 accuracy $iacc"
if [ "$short" = 0 ]; then
  awk -v f="$facc" -v i="$iacc" 'BEGIN {
    d = f - i; if (d < 0) d = -d
    if (f < 0.988) { print "fresh clone check: float accuracy below 98.8%"; exit 1 }
    if (d > 0.001 + 1e-9) { print "fresh clone check: int8 more than 0.1 point from float"; exit 1 }
  }'
  go test ./...
fi
echo "fresh clone check: PASS"
