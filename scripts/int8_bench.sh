#!/bin/bash
# int8 versus float with goqat bench, as docs/BENCHMARKS.md reports it: for
# each pair of models, float and int8 side by side at batch 1 and 64 on two
# threads, twice in turn; then the AVX2 paths; then each int8 op's time.
# Run it on an idle machine.
#
#   scripts/int8_bench.sh OUTDIR MNIST_FLOAT MNIST_INT8 MNIST_W4 MB_FLOAT MB_INT8 MB_W4
#
# (the float, 8-bit and W4A8 integer models of mnist-cnn and mobilenet-tiny:
# goqat train, goqat quantize [--scheme w4a8], goqat convert).
set -euo pipefail
if [ $# -ne 7 ]; then
	sed -n '2,10p' "$0" >&2
	exit 2
fi
out=$1 mf=$2 m8=$3 m4=$4 bf=$5 b8=$6 b4=$7
mkdir -p "$out"
cd "$(dirname "$0")/.."
go build -o "$out/goqat" ./cmd/goqat
g=$out/goqat
echo "start $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/log"
go test -run '^$' -bench 'VNNIPeak|Gemm/avx512vnni/512' -benchtime 50x -count 3 ./internal/qkernels | grep Bench | tee "$out/gemm.txt"
for rep in 1 2; do
	for pair in "mnist8 $mf $m8" "mnist4 $mf $m4" "mb8 $bf $b8" "mb4 $bf $b4"; do
		set -- $pair
		echo "== $1 run $rep" | tee -a "$out/log"
		$g bench --model "$2" --int8 "$3" --batch 1,64 --threads 2 --json "$out/$1_$rep.json" | tail -3 | tee -a "$out/log"
	done
done
for pair in "mnist $mf $m8" "mb $bf $b8"; do
	set -- $pair
	echo "== $1 avx2" | tee -a "$out/log"
	GOQAT_F32_PATH=avx2 GOQAT_INT8_PATH=avx2 $g bench --model "$2" --int8 "$3" --batch 1,64 --threads 2 --json "$out/$1_avx2.json" | tail -3 | tee -a "$out/log"
done
$g bench --model "$b8" --batch 64 --threads 2 --ops > "$out/mb_ops.txt"
$g bench --model "$m8" --batch 64 --threads 2 --ops > "$out/mnist_ops.txt"
echo "end $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/log"
