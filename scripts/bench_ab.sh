#!/usr/bin/env bash
# bench_ab.sh OLD NEW [ROUNDS]: times two goqat binaries side by side with
# `goqat bench` (mnist-cnn and mobilenet-tiny, batch 1 and 64, 2 threads),
# alternating old/new with the order flipped each round, and prints the
# medians and the median of the paired new/old ratios per figure.
set -euo pipefail
old=$1 new=$2 rounds=${3:-6}
out=$(mktemp -d)
one() { "$1" bench --model "$3" --batch 1,64 --threads 2 --min-time 1s --json "$out/$2.$3.$4.json" >/dev/null; }
for r in $(seq 1 "$rounds"); do
  for m in mnist-cnn mobilenet-tiny; do
    if [ $((r % 2)) = 1 ]; then one "$old" old "$m" "$r"; one "$new" new "$m" "$r"
    else one "$new" new "$m" "$r"; one "$old" old "$m" "$r"; fi
  done
  echo "round $r: $(uptime | sed 's/.*load/load/')"
done
python3 - "$out" <<'PY'
import json, glob, statistics as st, sys
d = sys.argv[1]
rows = {}
for f in glob.glob(d + "/*.json"):
    v, m, r = f.split("/")[-1].split(".")[:3]
    for k, x in json.load(open(f)).items():
        if "ms_per_image" in k:
            rows.setdefault((m, k), {}).setdefault(v, {})[r] = x
for (m, k), x in sorted(rows.items()):
    o, n = x["old"], x["new"]
    rs = sorted(set(o) & set(n))
    print(f"{m:15s} {k:24s} old {st.median(o.values()):.4f} new {st.median(n.values()):.4f} "
          f"paired new/old {st.median(n[r] / o[r] for r in rs):.3f}")
PY
rm -rf "$out"
