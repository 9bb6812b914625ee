#!/usr/bin/env bash
# resnet20_fashion.sh DIR [FLOAT_EPOCHS] [QAT_EPOCHS]: ResNet-20 on
# Fashion-MNIST padded to 32x32 (the CIFAR-style network on real data):
# float training, 8-bit PTQ, 8-bit QAT and W4A8 QAT, each converted to an
# integer model and evaluated on the 10,000 test images. Steps whose output
# exists in DIR are skipped, so a rerun continues (the float training also
# resumes from its checkpoint). The results are the JSON files in DIR and
# the summary printed at the end. Needs Debian's dataset-fashion-mnist.
set -euo pipefail
dir=${1:?usage: resnet20_fashion.sh DIR [FLOAT_EPOCHS] [QAT_EPOCHS]}
fe=${2:-5}
qe=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin="$dir/goqat"
(cd "$root" && go build -o "$bin" ./cmd/goqat)
data=(--data fashion --input 32x32)

if [ ! -f "$dir/float.safetensors" ]; then
	resume=()
	[ -d "$dir/ckpt" ] && resume=(--resume)
	"$bin" train --model resnet20 "${data[@]}" --epochs "$fe" --verbose 2 \
		--checkpoint-dir "$dir/ckpt" "${resume[@]}" --out "$dir/float.safetensors"
fi
[ -f "$dir/float.json" ] || "$bin" eval --model "$dir/float.safetensors" "${data[@]}" --json "$dir/float.json"

# 8-bit PTQ: per-channel weights, ranges calibrated on 512 training images.
[ -f "$dir/ptq.int8.safetensors" ] || "$bin" convert --ptq --in "$dir/float.safetensors" \
	--out "$dir/ptq.int8.safetensors" "${data[@]}"
[ -f "$dir/ptq.int8.json" ] || "$bin" eval --model "$dir/ptq.int8.safetensors" "${data[@]}" --json "$dir/ptq.int8.json"

for scheme in 8bit w4a8; do
	[ -f "$dir/qat-$scheme.safetensors" ] || "$bin" quantize --in "$dir/float.safetensors" --scheme "$scheme" \
		--epochs "$qe" --verbose 2 "${data[@]}" --out "$dir/qat-$scheme.safetensors" --json "$dir/qat-$scheme.json"
	[ -f "$dir/qat-$scheme.int8.safetensors" ] || "$bin" convert --in "$dir/qat-$scheme.safetensors" \
		--out "$dir/qat-$scheme.int8.safetensors" "${data[@]}"
	[ -f "$dir/qat-$scheme.int8.json" ] || "$bin" eval --model "$dir/qat-$scheme.int8.safetensors" "${data[@]}" \
		--json "$dir/qat-$scheme.int8.json"
done

echo "== resnet20 on Fashion-MNIST (32x32), test accuracy"
for f in float ptq.int8 qat-8bit qat-8bit.int8 qat-w4a8 qat-w4a8.int8; do
	printf '%-16s %s\n' "$f" "$(tr -d '\n' < "$dir/$f.json")"
done

# The 8-bit QAT model's integer form exported as ONNX QDQ and run in ONNX
# Runtime (onnxruntime-node, installed by scripts/onnx_conformance.sh) on
# the same 10,000 padded test images: top-1 and output agreement with
# goqat's engine on a trained network and real data. Skipped without node
# or onnxruntime-node.
ort="${GOQAT_CACHE:-$HOME/.cache/goqat}/ort"
if command -v node >/dev/null && [ -f "$ort/node_modules/onnxruntime-node/package.json" ]; then
	"$bin" export --format onnx --in "$dir/qat-8bit.int8.safetensors" --out "$dir/qat-8bit.int8.onnx"
	"$bin" export --format onnx --in "$dir/float.safetensors" --out "$dir/float.onnx"
	(cd "$root" && go run ./format/onnx/internal/conformance prepare --dir "$dir" --data fashion --pad 32 \
		int8="$dir/qat-8bit.int8.safetensors" float="$dir/float.safetensors") >/dev/null
	for k in int8 float; do
		node "$root/scripts/onnx_conformance.js" "$ort" "$dir/$( [ $k = int8 ] && echo qat-8bit.int8 || echo float).onnx" \
			"$dir/inputs.f32" "$dir/$k.ort.f32" 500 32x32x1
	done
	(cd "$root" && go run ./format/onnx/internal/conformance compare --dir "$dir" int8 float) || true
else
	echo "ONNX Runtime comparison skipped: node or onnxruntime-node missing (scripts/onnx_conformance.sh installs it)"
fi
