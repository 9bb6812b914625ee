// Runs an ONNX model with ONNX Runtime for Node.js on raw float32 images
// and writes its first output as raw float32. Used by onnx_conformance.sh.
//
//   node onnx_conformance.js ORT_DIR MODEL.onnx INPUTS.f32 OUT.f32 [BATCH [nchw|DxDxD]]
//
// ORT_DIR is the folder where onnxruntime-node was installed (npm install
// --prefix). Inputs are N x 28 x 28 x 1 little-endian float32 (NHWC, as
// goqat's exported graphs take them; with nchw, shaped N x 1 x 28 x 28, the
// same bytes for one channel), or N samples of the shape given as
// dimensions joined by x (e.g. 3x64x64, or 9 for a sequence of indices); the model runs with 2 intra-op
// threads and all graph optimizations (QDQ fusion included).
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [ortDir, modelPath, inPath, outPath, batchArg, layout] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node onnx_conformance.js ORT_DIR MODEL.onnx INPUTS.f32 OUT.f32 [BATCH]');
    process.exit(2);
  }
  const ort = require(path.join(path.resolve(ortDir), 'node_modules', 'onnxruntime-node'));
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    graphOptimizationLevel: process.env.GOQAT_ORT_OPT || 'all',
    executionProviders: ['cpu'],
  });
  const buf = fs.readFileSync(inPath);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  let dims = layout === 'nchw' ? [1, 28, 28] : [28, 28, 1];
  if (/^\d+(x\d+)*$/.test(layout || '')) dims = layout.split('x').map((d) => parseInt(d, 10));
  const per = dims.reduce((a, b) => a * b, 1);
  const n = all.length / per;
  if (process.env.GOQAT_BENCH) {
    await bench(ort, session, all, batchArg, layout);
    return;
  }
  const batch = parseInt(batchArg || '500', 10);
  const chunks = [];
  let total = 0;
  const t0 = process.hrtime.bigint();
  for (let lo = 0; lo < n; lo += batch) {
    const hi = Math.min(lo + batch, n);
    const x = new ort.Tensor('float32', all.slice(lo * per, hi * per), [hi - lo, ...dims]);
    const res = await session.run({ [session.inputNames[0]]: x });
    const y = res[session.outputNames[0]].data;
    chunks.push(Float32Array.from(y));
    total += y.length;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = new Float32Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  fs.writeFileSync(outPath, Buffer.from(out.buffer));
  console.log(`${path.basename(modelPath)}: ONNX Runtime ${ort.env.versions ? ort.env.versions.common : ''} ran ${n} images in ${ms.toFixed(0)} ms (batch ${batch})`);
}

// bench times the model at each batch size of a comma-separated list:
// after a warm-up, 7 rounds of about 2,000 images each; it prints the
// median milliseconds per image.
async function bench(ort, session, all, batches, layout) {
  const per = 28 * 28;
  for (const b of batches.split(',').map((s) => parseInt(s, 10))) {
    const shape = layout === 'nchw' ? [b, 1, 28, 28] : [b, 28, 28, 1];
    const x = new ort.Tensor('float32', all.slice(0, b * per), shape);
    const feeds = { [session.inputNames[0]]: x };
    const runs = Math.max(3, Math.floor(2000 / b));
    for (let i = 0; i < Math.min(runs, 50); i++) await session.run(feeds);
    const rounds = [];
    for (let r = 0; r < 7; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < runs; i++) await session.run(feeds);
      rounds.push(Number(process.hrtime.bigint() - t0) / 1e6 / (runs * b));
    }
    rounds.sort((p, q) => p - q);
    console.log(`    batch ${b}: ${rounds[3].toFixed(4)} ms/image (median of 7 rounds of ${runs * b} images, 2 intra-op threads)`);
  }
}

main().catch((e) => {
  console.error(String(e && e.message ? e.message : e).split('\n')[0]);
  process.exit(1);
});
