#!/usr/bin/env bash
# The data-parallel determinism check (docs/distributed.md, Determinism):
# installs Open MPI if apt-get is available (skips cleanly otherwise),
# runs the mpi-tagged tests of ./distributed, then trains mnist-cnn (float,
# then QAT) for 200 steps on 2 ranks x 1 thread and on one process x 2
# threads with the same 2 blocks per batch and compares the model files
# byte for byte, with per-block and with synchronized BatchNorm
# (--sync-bn); then kills rank 1 mid-epoch (the job must end with an
# error, not hang) and resumes from rank 0's checkpoint to the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev pkg-config) >/dev/null \
      || true
  fi
fi
if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi 2>/dev/null; then
  echo "skipped: Open MPI (mpirun, libopenmpi-dev) is not installed and could not be"
  exit 0
fi
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2)
go vet -tags mpi ./distributed ./cmd/goqat
go test -tags mpi -short ./distributed # -short: without the Allreduce measurement
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -tags mpi -o "$dir/goqat-mpi" ./cmd/goqat
go build -o "$dir/goqat" ./cmd/goqat
train=(train --model mnist-cnn --epochs 1 --train-limit 6400 --test-limit 500 --batch 32 --verbose 2)
"${mpirun[@]}" "$dir/goqat-mpi" "${train[@]}" --distributed --threads 1 --out "$dir/float2.safetensors"
"$dir/goqat" "${train[@]}" --blocks 2 --threads 2 --out "$dir/float1.safetensors"
cmp "$dir/float1.safetensors" "$dir/float2.safetensors"
echo "float: 2 ranks x 1 thread = 1 process x 2 threads, bit for bit"
quant=(quantize --in "$dir/float1.safetensors" --epochs 1 --train-limit 6400 --test-limit 500 --batch 32 --calibrate 256 --verbose 2)
"${mpirun[@]}" "$dir/goqat-mpi" "${quant[@]}" --distributed --threads 1 --out "$dir/qat2.safetensors"
"$dir/goqat" "${quant[@]}" --blocks 2 --threads 2 --out "$dir/qat1.safetensors"
cmp "$dir/qat1.safetensors" "$dir/qat2.safetensors"
echo "QAT: 2 ranks x 1 thread = 1 process x 2 threads, bit for bit"
# Synchronized BatchNorm: the statistics of the whole global batch.
"${mpirun[@]}" "$dir/goqat-mpi" "${train[@]}" --distributed --sync-bn --threads 1 --out "$dir/sfloat2.safetensors"
"$dir/goqat" "${train[@]}" --blocks 2 --sync-bn --threads 2 --out "$dir/sfloat1.safetensors"
cmp "$dir/sfloat1.safetensors" "$dir/sfloat2.safetensors"
echo "float, --sync-bn: 2 ranks x 1 thread = 1 process x 2 threads, bit for bit"
squant=(quantize --in "$dir/sfloat1.safetensors" --epochs 1 --train-limit 6400 --test-limit 500 --batch 32 --calibrate 256 --verbose 2 --sync-bn)
"${mpirun[@]}" "$dir/goqat-mpi" "${squant[@]}" --distributed --threads 1 --out "$dir/sqat2.safetensors"
"$dir/goqat" "${squant[@]}" --blocks 2 --threads 2 --out "$dir/sqat1.safetensors"
cmp "$dir/sqat1.safetensors" "$dir/sqat2.safetensors"
echo "QAT, --sync-bn: 2 ranks x 1 thread = 1 process x 2 threads, bit for bit"
# A rank killed mid-epoch ends the job; --resume finishes bit-identically.
ck=(--checkpoint-dir "$dir/ckpt" --checkpoint-every 20)
"${mpirun[@]}" "$dir/goqat-mpi" "${train[@]}" --distributed --threads 1 "${ck[@]}" --out "$dir/float3.safetensors" &
job=$!
for _ in $(seq 600); do
  [ -e "$dir/ckpt" ] && [ -n "$(ls -A "$dir/ckpt" 2>/dev/null)" ] && break
  sleep 0.1
done
sleep 1
pid=$(pgrep -P "$job" | tail -n 1 || true) # a rank: a child of this mpirun
[ -n "$pid" ] && kill -KILL "$pid"
if timeout 120 tail --pid="$job" -f /dev/null; then :; else echo "the job did not end after a rank was killed"; exit 1; fi
if wait "$job"; then echo "the job succeeded though a rank was killed"; exit 1; fi
"${mpirun[@]}" "$dir/goqat-mpi" "${train[@]}" --distributed --threads 1 "${ck[@]}" --resume --out "$dir/float3.safetensors"
cmp "$dir/float1.safetensors" "$dir/float3.safetensors"
echo "kill and --resume: bit for bit"
