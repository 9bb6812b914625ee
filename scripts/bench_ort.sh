#!/usr/bin/env bash
# goqat against ONNX Runtime 1.30 (onnxruntime-node), side by side in one
# run, on the same networks and the same threads (docs/BENCHMARKS.md, goqat
# against ONNX Runtime).
#
#   scripts/bench_ort.sh [--nets "mnist-cnn mobilenet_v2 resnet18 resnet50"]
#       [--batch LIST] [--min-time S] [--rounds N] [--threads N]
#       [--cache DIR] [--no-check] [--no-peaks] [--no-rss] [--out FILE]
#
# Networks (random weights: the times do not depend on them):
#   mobilenet_v2, resnet18, resnet50: torchvision's, exported to ONNX by
#     PyTorch (scripts/make_torchvision_fixtures.py --bench224: float,
#     opset 13, 224x224 NCHW inputs, 1000 classes, dynamic batch), batch 1
#     and 8;
#   mnist-cnn: goqat's built-in network, trained briefly on 512 images,
#     batch 1 and 64.
# For each network the float model is timed in goqat (a torchvision file
# imported with `goqat import`; mnist-cnn as trained) and in ONNX Runtime
# (the PyTorch file itself; for mnist-cnn goqat's float ONNX export), and
# its int8 model (`goqat convert --ptq --calibration random`) in goqat and
# in ONNX Runtime as goqat's QDQ export, once with int8 activations and once
# with uint8 activations (`goqat export --uint8-activations`, the form
# ONNX Runtime on x86 fuses fully).
#
# Before timing, it checks that the compared float models compute the same
# function: goqat's imported model and ONNX Runtime on the PyTorch file
# against PyTorch's outputs and each other, within 1e-4 of each output
# row's largest magnitude on two 224x224 images (go test -run
# TestTorchvisionONNXRuntime/full/NAME ./format/onnx; --no-check skips it).
# goqat's int8 engine against its QDQ export in ONNX Runtime is checked by
# scripts/onnx_conformance.sh (mnist-cnn on the MNIST test set, these
# torchvision networks at 64x64 with GOQAT_TORCHVISION_DIR), not here.
#
# Method: for each network and batch, --rounds rounds (default 5) of
# alternating passes: goqat float, ORT float, goqat int8, ORT int8 QDQ, ORT
# int8 QDQ with uint8 activations. A pass is one process: `goqat bench`
# (one model, --min-time after at least a second of warm-up, median of the
# timed runs) or scripts/ort_bench.mjs (the same warm-up and min-time, each
# session.run timed, median; intraOpNumThreads = --threads, one inter-op
# thread, sequential execution, all graph optimizations). The table gives
# the median over the rounds of each pass's median in ms per image, and as
# goqat/ORT the median of the per-round ratios of adjacent passes (above 1:
# goqat is slower). The per-core FMA and VNNI peaks are measured in the
# same run (before and after the timings; go test -bench FMAPeak
# ./internal/kernels, VNNIPeak ./internal/qkernels), and the peak resident
# memory of `goqat bench` (and of the ORT process, node included) on
# resnet50 at batch 1.
#
# Needs go, node and, the first time, /usr/bin/python3 with torch and
# torchvision (the torchvision exports). onnxruntime-node 1.30.0 is
# installed, as scripts/onnx_conformance.sh does, into
# ${GOQAT_CACHE:-$HOME/.cache/goqat}/ort (npm install --ignore-scripts: its
# CPU library ships inside the package). Models go to --cache (default
# ${GOQAT_BENCH_CACHE:-$HOME/.cache/goqat-bench}): the PyTorch exports once,
# the goqat-made files once per goqat build; the passes' JSON files to
# --cache/results/<UTC time>. The markdown table goes to stdout (and to
# --out). A network or model that fails is reported in the table and the
# run goes on; the exit status is then 1. Run it on an otherwise idle
# machine; it takes about (networks x batches x rounds x 5) passes of
# --min-time + 2 s each, plus the preparation the first time (the full
# default run: about a quarter of an hour).
set -euo pipefail
cd "$(dirname "$0")/.."

nets="mnist-cnn mobilenet_v2 resnet18 resnet50"
batch_list=""
min_time=2
rounds=5
nthreads=2
cache=${GOQAT_BENCH_CACHE:-$HOME/.cache/goqat-bench}
peaks=1
rss=1
check=1
outfile=""
while [ $# -gt 0 ]; do
  case $1 in
    --nets) nets=$2; shift 2 ;;
    --batch) batch_list=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) nthreads=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --no-check) check=0; shift ;;
    --no-peaks) peaks=0; shift ;;
    --no-rss) rss=0; shift ;;
    --out) outfile=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_ort: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
case $min_time in ''|*[!0-9.]*|*.*.*|.) echo "bench_ort: --min-time $min_time: want seconds, e.g. 2 or 0.5" >&2; exit 2 ;; esac
case $rounds in ''|*[!0-9]*|0) echo "bench_ort: --rounds $rounds: want a positive integer" >&2; exit 2 ;; esac
case $nthreads in ''|*[!0-9]*|0) echo "bench_ort: --threads $nthreads: want a positive integer" >&2; exit 2 ;; esac
if [ -n "$batch_list" ] && ! [[ $batch_list =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; then
  echo "bench_ort: --batch $batch_list: want sizes like 1,8" >&2; exit 2
fi
for n in $nets; do
  case $n in mnist-cnn|mobilenet_v2|resnet18|resnet50) ;;
    *) echo "bench_ort: --nets: unknown network $n (mnist-cnn, mobilenet_v2, resnet18, resnet50)" >&2; exit 2 ;;
  esac
done
for tool in go node; do
  command -v $tool >/dev/null 2>&1 || { echo "bench_ort: $tool is not installed" >&2; exit 1; }
done

log() { echo "bench_ort: $*" >&2; }

# ONNX Runtime for Node.js, as scripts/onnx_conformance.sh installs it.
ORT_VERSION=1.30.0
ORT_DIR="${GOQAT_CACHE:-$HOME/.cache/goqat}/ort"
if ! node -e "process.exit(require('$ORT_DIR/node_modules/onnxruntime-node/package.json').version === '$ORT_VERSION' ? 0 : 1)" 2>/dev/null; then
  log "installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  npm install --prefix "$ORT_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$ORT_VERSION" >/dev/null
fi

mkdir -p "$cache/bin"
log "building goqat"
go build -o "$cache/bin/goqat.new" ./cmd/goqat
mv "$cache/bin/goqat.new" "$cache/bin/goqat"
goqat=$cache/bin/goqat
build=$(sha256sum "$goqat" | cut -c1-16)
# The goqat-made files depend on the build (its converter and exporter):
# one folder per build; the other builds' folders are removed.
derived=$cache/goqat-$build
for d in "$cache"/goqat-*; do
  [ -d "$d" ] && [ "$d" != "$derived" ] && rm -rf "$d"
done
mkdir -p "$derived"
tv=$cache/torchvision224

# run_logged FILE CMD...: runs CMD with its output in FILE; on failure
# prints the last lines and returns the status.
run_logged() {
  local f=$1; shift
  if ! "$@" >"$f" 2>&1; then
    log "failed: $*"; tail -5 "$f" | sed 's/^/    /' >&2; return 1
  fi
}

# Per network: the ORT float model and its input shape, the goqat float
# model, and the batches.
declare -A ort_float shape_float shape_nhwc goqat_float batches failed
prepare() {
  local n=$1 d=$derived
  case $n in
    mnist-cnn)
      shape_float[$n]=28x28x1; shape_nhwc[$n]=28x28x1; batches[$n]=1,64
      if [ ! -f "$d/$n.float.done" ]; then
        log "training $n briefly (512 images: weights for timing only)"
        run_logged "$d/$n.train.log" "$goqat" train --model mnist-cnn --epochs 1 --train-limit 512 --test-limit 100 \
          --threads "$nthreads" --verbose 0 --out "$d/$n.float.safetensors" || return 1
        run_logged "$d/$n.export-float.log" "$goqat" export --format onnx --in "$d/$n.float.safetensors" --out "$d/$n.float.onnx" || return 1
        touch "$d/$n.float.done"
      fi
      ort_float[$n]=$d/$n.float.onnx ;;
    *)
      shape_float[$n]=3x224x224; shape_nhwc[$n]=224x224x3; batches[$n]=1,8
      if [ ! -f "$tv/$n.onnx" ]; then
        log "exporting mobilenet_v2, resnet18, resnet50 at 224x224 with PyTorch into $tv"
        run_logged "$cache/torchvision224.log" /usr/bin/python3 scripts/make_torchvision_fixtures.py --small '' --bench224 "$tv" || return 1
      fi
      if [ ! -f "$d/$n.float.done" ]; then
        log "importing $n"
        run_logged "$d/$n.import.log" "$goqat" import --in "$tv/$n.onnx" --out "$d/$n.float.safetensors" || return 1
        touch "$d/$n.float.done"
      fi
      ort_float[$n]=$tv/$n.onnx ;;
  esac
  goqat_float[$n]=$d/$n.float.safetensors
  if [ ! -f "$d/$n.int8.done" ]; then
    log "converting $n to int8 (8-bit PTQ on random inputs) and exporting it as QDQ"
    run_logged "$d/$n.convert.log" "$goqat" convert --ptq --calibration random --calibration-samples 16 \
      --in "$d/$n.float.safetensors" --out "$d/$n.int8.safetensors" || return 1
    run_logged "$d/$n.export-int8.log" "$goqat" export --format onnx --in "$d/$n.int8.safetensors" --out "$d/$n.int8.onnx" || return 1
    run_logged "$d/$n.export-int8u8.log" "$goqat" export --format onnx --uint8-activations \
      --in "$d/$n.int8.safetensors" --out "$d/$n.int8u8.onnx" || return 1
    touch "$d/$n.int8.done"
  fi
  [ -n "$batch_list" ] && batches[$n]=$batch_list
  return 0
}

status=0
ready=()
for n in $nets; do
  if prepare "$n"; then ready+=("$n"); else failed[$n]=1; status=1; fi
done

res=$cache/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$res"

# The float models' agreement (see above).
check_lines=()
tvready=()
for n in "${ready[@]}"; do [ "$n" != mnist-cnn ] && tvready+=("$n"); done
if [ $check = 1 ] && [ ${#tvready[@]} -gt 0 ]; then
  log "checking goqat's imported models against ONNX Runtime and PyTorch"
  names=$(IFS='|'; echo "${tvready[*]}")
  if GOQAT_TORCHVISION_DIR=$tv GOQAT_CACHE=$(dirname "$ORT_DIR") go test -count=1 -v \
    -run "^TestTorchvisionONNXRuntime\$/^full\$/^($names)\$" ./format/onnx >"$res/check.log" 2>&1; then
    ok=1
  else
    ok=0; status=1
  fi
  while IFS= read -r l; do check_lines+=("- $l"); done < <(sed -n 's/^ *torchvision_test.go:[0-9]*: //p' "$res/check.log")
  if [ $ok = 0 ]; then
    log "the check failed (log: $res/check.log)"
    check_lines+=("- the check FAILED (log: $res/check.log):")
    while IFS= read -r l; do check_lines+=("  $l"); done < <(grep -E -- '--- FAIL|Error|error' "$res/check.log" | head -10)
  elif [ ${#check_lines[@]} -eq 0 ]; then
    check_lines+=("- the check did not run (log: $res/check.log)"); status=1
  fi
fi
start=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# peak_run TAG: the FMA and VNNI per-core peaks (3 runs each).
peak_run() {
  go test -run '^$' -bench 'FMAPeak' -count 3 ./internal/kernels/ >"$res/peaks-fma-$1.txt" 2>&1 || true
  go test -run '^$' -bench 'VNNIPeak' -count 3 ./internal/qkernels/ >"$res/peaks-vnni-$1.txt" 2>&1 || true
}
if [ $peaks = 1 ]; then
  log "measuring the FMA and VNNI peaks"
  peak_run before
fi

# pass NET BATCH ROUND ENGINE KIND: one timing pass, its JSON (or its error)
# in $res/NET_bBATCH_ENGINE-KIND_rROUND.json (.err).
pass() {
  local n=$1 b=$2 r=$3 engine=$4 kind=$5 f model shape
  f=$res/${n}_b${b}_${engine}-${kind}_r${r}
  case $engine-$kind in
    goqat-float) model=${goqat_float[$n]} ;;
    goqat-int8) model=$derived/$n.int8.safetensors ;;
    ort-float) model=${ort_float[$n]}; shape=${shape_float[$n]} ;;
    ort-int8) model=$derived/$n.int8.onnx; shape=${shape_nhwc[$n]} ;;
    ort-int8u8) model=$derived/$n.int8u8.onnx; shape=${shape_nhwc[$n]} ;;
  esac
  if [ "$engine" = goqat ]; then
    "$goqat" bench --model "$model" --batch "$b" --threads "$nthreads" --min-time "${min_time}s" \
      --json "$f.json" >"$f.log" 2>&1 || { tail -1 "$f.log" >"$f.err"; rm -f "$f.json"; }
  else
    node scripts/ort_bench.mjs --ort "$ORT_DIR" --model "$model" --shape "$shape" --batch "$b" \
      --min-time "$min_time" --threads "$nthreads" >"$f.json" 2>"$f.log" || { tail -1 "$f.log" >"$f.err"; rm -f "$f.json"; }
  fi
  if [ -f "$f.err" ]; then
    log "$n batch $b: $engine $kind failed: $(cat "$f.err")"
    status=1
  fi
  return 0
}

for n in "${ready[@]}"; do
  IFS=, read -r -a bs <<<"${batches[$n]}"
  for b in "${bs[@]}"; do
    for r in $(seq 1 "$rounds"); do
      log "$n batch $b round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))"
      for p in "goqat float" "ort float" "goqat int8" "ort int8" "ort int8u8"; do
        # shellcheck disable=SC2086
        pass "$n" "$b" "$r" $p
      done
    done
  done
done

# Peak resident memory of one process, in KiB: GNU time, or Python's
# getrusage of the child.
maxrss() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$res/time.out" "$@" >/dev/null 2>&1 || return 1
    tail -1 "$res/time.out"
  else
    /usr/bin/python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) if r.returncode == 0 else sys.exit(1)' "$@"
  fi
}
# rss_row LABEL CMD...: a table row with CMD's peak resident memory.
rss_lines=()
rss_row() {
  local what=$1 kb; shift
  if kb=$(maxrss "$@") && [[ $kb =~ ^[0-9]+$ ]]; then
    rss_lines+=("| $what | $((kb / 1024)) |")
  else
    rss_lines+=("| $what | fails |"); status=1
  fi
}
if [ $rss = 1 ] && [[ " ${ready[*]} " == *" resnet50 "* ]]; then
  log "peak resident memory, resnet50 at batch 1"
  ort=(node scripts/ort_bench.mjs --ort "$ORT_DIR" --batch 1 --min-time 1 --threads "$nthreads")
  rss_row "goqat bench, float (imported)" \
    "$goqat" bench --model "${goqat_float[resnet50]}" --batch 1 --threads "$nthreads" --min-time 1s
  rss_row "goqat bench, int8" \
    "$goqat" bench --model "$derived/resnet50.int8.safetensors" --batch 1 --threads "$nthreads" --min-time 1s
  rss_row "ORT (node process), float (PyTorch file)" "${ort[@]}" --model "${ort_float[resnet50]}" --shape 3x224x224
  rss_row "ORT (node process), int8 QDQ" "${ort[@]}" --model "$derived/resnet50.int8.onnx" --shape 224x224x3
fi

if [ $peaks = 1 ]; then
  log "measuring the FMA and VNNI peaks again"
  peak_run after
fi
end=$(date -u '+%H:%M:%S UTC')
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# median of the numbers on stdin
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# peak NAME UNIT FILES...: the best and the median of a benchmark's metric
# over the files ("-" if it did not run).
peak() {
  local name=$1 unit=$2 vals; shift 2
  vals=$(cat "$@" 2>/dev/null | awk -v n="$name" -v u="$unit" '$1 ~ "^"n"(-[0-9]+)?$" {for (i = 2; i < NF; i++) if ($(i+1) == u) print $i}' || true)
  if [ -z "$vals" ]; then echo "-"; return; fi
  echo "$(sort -g <<<"$vals" | tail -1) $unit (median $(median <<<"$vals"))"
}

{
  # go test names the processor better than lscpu on some VMs.
  cpu=""
  [ -f "$res/peaks-fma-before.txt" ] && cpu=$(sed -n 's/^cpu: *//p' "$res/peaks-fma-before.txt" | head -1 | sed 's/ *$//')
  [ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1 || true)
  echo "### goqat against ONNX Runtime $ORT_VERSION ($start - $end)"
  echo
  echo "$cpu, $(nproc) cores, $(go env GOVERSION), node $(node --version); $nthreads threads each (ORT: intraOpNumThreads $nthreads," \
    "interOpNumThreads 1, sequential, all graph optimizations); load average $load0 at the start, $load1 at the end."
  echo "Medians over $rounds rounds of alternating passes of $min_time s each (after a warm-up), in ms per image;"
  echo "goqat/ORT is the median of the per-round ratios (above 1: goqat is slower). Random weights; int8: 8-bit PTQ"
  echo "on random inputs, in ORT as goqat's QDQ export (int8 activations, and uint8 activations)."
  echo
  node scripts/bench_ort_table.mjs "$res" "${ready[@]}"
  if [ ${#check_lines[@]} -gt 0 ]; then
    echo
    echo "Float models checked before the timings (two 224x224 images; criterion 1e-4 of the row maximum):"
    echo
    printf '%s\n' "${check_lines[@]}"
  fi
  for n in $nets; do
    [ -n "${failed[$n]:-}" ] && echo "- $n: preparing the models failed (logs in $derived)"
  done
  if [ $peaks = 1 ]; then
    echo
    echo "Per-core peaks in the same run, the best of 6 runs (3 before the timings, 3 after):" \
      "FMA AVX-512 $(peak BenchmarkFMAPeak/avx512 GFLOP/s "$res"/peaks-fma-*.txt)," \
      "FMA AVX2 $(peak BenchmarkFMAPeak/avx2 GFLOP/s "$res"/peaks-fma-*.txt)," \
      "VNNI $(peak BenchmarkVNNIPeak GOPS "$res"/peaks-vnni-*.txt) (-: the CPU lacks it)."
  fi
  if [ ${#rss_lines[@]} -gt 0 ]; then
    echo
    echo "Peak resident memory, resnet50 at batch 1 (one process: load, warm-up, 1 s of runs):"
    echo
    echo "| process | MiB |"
    echo "| --- | --- |"
    printf '%s\n' "${rss_lines[@]}"
  fi
  echo
  echo "Raw passes: $res"
} | if [ -n "$outfile" ]; then tee "$outfile"; else cat; fi
exit $status
