// Times one ONNX model in ONNX Runtime for Node.js and prints JSON with the
// time of every iteration. The ONNX Runtime half of scripts/bench_ort.sh.
//
//   node scripts/ort_bench.mjs --ort DIR --model MODEL.onnx --shape 3x224x224 \
//       [--batch 1] [--min-time 2] [--threads 2] [--warmup S]
//
// DIR is the folder where onnxruntime-node was installed (npm install
// --prefix DIR). --shape is one image's shape as the model takes it
// (3x224x224 for PyTorch's NCHW exports, 224x224x3 for goqat's NHWC
// exports); the input is a batch of --batch such images, uniform in [0, 1)
// (the same values every run). The session runs with --threads intra-op
// threads, one inter-op thread, sequential execution and all graph
// optimizations (QDQ fusion included), on the CPU execution provider.
//
// After a warm-up of --warmup seconds (default: a tenth of --min-time, at
// least one second, as goqat bench does), it runs the model until
// --min-time seconds have elapsed (at least 5 runs), timing each
// session.run on its own, and prints one JSON object: the settings,
// iterations_ms (every run, in milliseconds), median_ms and
// median_ms_per_image. Errors go to stderr as one line, exit status 1.
import { createRequire } from 'node:module';
import path from 'node:path';

function usage(msg) {
  if (msg) console.error(`ort_bench: ${msg}`);
  console.error('usage: node ort_bench.mjs --ort DIR --model MODEL.onnx --shape DxDxD [--batch N] [--min-time S] [--threads N] [--warmup S]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { batch: 1, minTime: 2, threads: 2, warmup: -1 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (v === undefined) usage(`${k} needs a value`);
    i++;
    switch (k) {
      case '--ort': o.ort = v; break;
      case '--model': o.model = v; break;
      case '--shape':
        if (!/^\d+(x\d+)*$/.test(v)) usage(`--shape ${v}: want dimensions joined by x, e.g. 3x224x224`);
        o.shape = v.split('x').map((d) => parseInt(d, 10));
        if (o.shape.some((d) => d < 1)) usage(`--shape ${v}: dimensions must be positive`);
        break;
      case '--batch': o.batch = parseInt(v, 10); break;
      case '--min-time': o.minTime = parseFloat(v); break;
      case '--threads': o.threads = parseInt(v, 10); break;
      case '--warmup': o.warmup = parseFloat(v); break;
      default: usage(`unknown flag ${k}`);
    }
  }
  if (!o.ort || !o.model || !o.shape) usage('--ort, --model and --shape are required');
  if (!(o.batch >= 1)) usage('--batch must be a positive integer');
  if (!(o.minTime > 0)) usage('--min-time must be positive (seconds)');
  if (!(o.threads >= 1)) usage('--threads must be a positive integer');
  if (o.warmup < 0) o.warmup = Math.max(o.minTime / 10, 1);
  return o;
}

// randomInput returns n values uniform in [0, 1) from a fixed-seed
// generator (xorshift32), the same every run.
function randomInput(n) {
  const x = new Float32Array(n);
  let s = 0x9e3779b9 >>> 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const require = createRequire(import.meta.url);
  const ortPkg = path.join(path.resolve(o.ort), 'node_modules', 'onnxruntime-node');
  const ort = require(ortPkg);
  const version = require(path.join(ortPkg, 'package.json')).version;
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const dims = [o.batch, ...o.shape];
  const x = new ort.Tensor('float32', randomInput(dims.reduce((a, b) => a * b, 1)), dims);
  const feeds = { [session.inputNames[0]]: x };

  // The first run also checks that the model runs at all, and its output.
  const first = await session.run(feeds);
  const out = first[session.outputNames[0]];
  for (const v of out.data) {
    if (!Number.isFinite(v)) throw new Error(`${o.model}: output ${session.outputNames[0]} has a non-finite value`);
  }

  const now = () => process.hrtime.bigint();
  const ns = (s) => BigInt(Math.round(s * 1e9));
  for (const t0 = now(); now() - t0 < ns(o.warmup);) await session.run(feeds);
  const its = [];
  for (const t0 = now(); its.length < 5 || now() - t0 < ns(o.minTime);) {
    const t = now();
    await session.run(feeds);
    its.push(Number(now() - t) / 1e6);
  }
  const med = median(its);
  console.log(JSON.stringify({
    engine: 'onnxruntime-node',
    version,
    model: o.model,
    input: session.inputNames[0],
    input_dims: dims,
    output_dims: out.dims,
    batch: o.batch,
    threads: o.threads,
    inter_op_threads: 1,
    execution_mode: 'sequential',
    graph_optimization_level: 'all',
    warmup_seconds: o.warmup,
    min_time_seconds: o.minTime,
    iterations: its.length,
    median_ms: med,
    median_ms_per_image: med / o.batch,
    iterations_ms: its.map((t) => Math.round(t * 1e4) / 1e4),
  }));
}

main().catch((e) => {
  console.error('ort_bench: ' + String(e && e.message ? e.message : e).split('\n')[0]);
  process.exit(1);
});
