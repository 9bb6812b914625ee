// Prints the markdown table of scripts/bench_ort.sh from its passes.
//
//   node scripts/bench_ort_table.mjs RESULTS_DIR NET...
//
// RESULTS_DIR holds one file per pass, NET_bBATCH_ENGINE-KIND_rROUND.json
// (goqat bench --json, or scripts/ort_bench.mjs's output), or .err with the
// error of a pass that failed. For each network and batch it prints the
// median over the rounds of each pass's ms per image and, for each ORT
// column, goqat/ORT as the median of the per-round ratios of the passes of
// one round (goqat float against ORT float, goqat int8 against each ORT
// int8 model). A cell with a failed pass shows "fails"; the errors are
// listed below the table.
import fs from 'node:fs';
import path from 'node:path';

const [dir, ...nets] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node bench_ort_table.mjs RESULTS_DIR NET...');
  process.exit(2);
}

// runs[net][batch][engine-kind][round] = ms per image, or an Error.
const runs = {};
// The kernel paths goqat ran (goqat bench names them in its JSON).
const paths = new Set();
const re = /^(.+)_b(\d+)_(goqat|ort)-(float|int8|int8u8)_r(\d+)\.(json|err)$/;
for (const f of fs.readdirSync(dir).sort()) {
  const m = re.exec(f);
  if (!m) continue;
  const [, net, batch, engine, kind, round, ext] = m;
  const key = `${engine}-${kind}`;
  const slot = (((runs[net] ??= {})[batch] ??= {})[key] ??= {});
  const text = fs.readFileSync(path.join(dir, f), 'utf8');
  if (ext === 'err') {
    slot[round] = new Error(text.trim() || 'failed');
    continue;
  }
  const j = JSON.parse(text);
  if (j.f32_gemm_path) paths.add(`f32 GEMM ${j.f32_gemm_path}`);
  if (j.int8_path) paths.add(`int8 ${j.int8_path}`);
  const ms = engine === 'goqat' ? j[`${kind}_ms_per_image_b${batch}`] : j.median_ms_per_image;
  slot[round] = typeof ms === 'number' ? ms : new Error(`${f}: no ms per image`);
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(ms) {
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 10) return ms.toFixed(2);
  if (ms >= 1) return ms.toFixed(3);
  return ms.toFixed(4);
}

const errors = [];
// cell returns the median ms per image of a pass kind, or "fails".
function cell(slot, what) {
  const vals = Object.values(slot ?? {});
  const bad = vals.find((v) => v instanceof Error);
  if (bad) {
    errors.push(`${what}: ${bad.message}`);
    return 'fails';
  }
  return vals.length ? fmt(median(vals)) : '-';
}

// ratio returns the median over the rounds of a[r] / b[r].
function ratio(a, b) {
  const rs = Object.keys(a ?? {}).filter((r) => typeof a[r] === 'number' && typeof (b ?? {})[r] === 'number');
  return rs.length ? median(rs.map((r) => a[r] / b[r])).toFixed(2) : '-';
}

console.log('| network | batch | goqat float | ORT float | goqat/ORT | goqat int8 | ORT int8 QDQ | goqat/ORT | ORT int8 QDQ, u8 activations | goqat/ORT |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const net of nets) {
  const byBatch = runs[net] ?? {};
  for (const batch of Object.keys(byBatch).sort((a, b) => a - b)) {
    const s = byBatch[batch];
    const w = (k) => `${net} batch ${batch}, ${k}`;
    console.log(`| ${net} | ${batch} | ${cell(s['goqat-float'], w('goqat float'))} | ${cell(s['ort-float'], w('ORT float'))} | ` +
      `${ratio(s['goqat-float'], s['ort-float'])} | ${cell(s['goqat-int8'], w('goqat int8'))} | ` +
      `${cell(s['ort-int8'], w('ORT int8 QDQ'))} | ${ratio(s['goqat-int8'], s['ort-int8'])} | ` +
      `${cell(s['ort-int8u8'], w('ORT int8 QDQ with uint8 activations'))} | ${ratio(s['goqat-int8'], s['ort-int8u8'])} |`);
  }
}
if (paths.size) console.log(`\ngoqat kernel paths: ${[...paths].join(', ')}.`);
if (errors.length) {
  console.log('\nFailed passes (the first error of each):\n');
  for (const e of errors) console.log(`- ${e}`);
}
