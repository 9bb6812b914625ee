// Runs a .tflite model in TensorFlow Lite's own interpreter, compiled to
// WebAssembly by the npm package @tensorflow/tfjs-tflite, under plain Node.
//
//   node scripts/tflite_run.js CACHE_DIR model.tflite inputs.bin outputs.bin N [fresh]
//
// With "fresh", every sample runs in a new interpreter: a stateful model
// (the variable state tensors of UNIDIRECTIONAL_SEQUENCE_LSTM, which TFLite
// keeps from one invocation to the next) starts each sample from its
// initial state.
// CACHE_DIR holds node_modules/@tensorflow/tfjs-tflite (installed by
// scripts/tflite_conformance.sh). inputs.bin holds N samples of each of the
// model's inputs, raw little-endian in its own type (int8 or float32): input
// 0 of every sample, then input 1, ...; outputs.bin receives the outputs the
// same way. Batch 1, one
// thread, TFLite's kernels with its default XNNPACK delegate, which runs the
// int8 convolutions, fully connected layers, Add and Mul (docs/tflite.md,
// Rounding modes).
//
// The package is written for browsers. This shim provides the globals its
// loader looks for: `self` (so it takes the web-worker path), `importScripts`
// (the loader scripts, read from the package's wasm folder and evaluated in
// this context), `fetch` (the .wasm files and the model, from disk), and hides
// `SharedArrayBuffer` so that the single-threaded SIMD build is chosen.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const [cache, modelPath, inPath, outPath, nArg, mode] = process.argv.slice(2);
const fresh = mode === 'fresh';
if (!cache || !modelPath || !inPath || !outPath || !nArg) {
  console.error('usage: node tflite_run.js CACHE_DIR model.tflite inputs.bin outputs.bin N');
  process.exit(2);
}
const wasmDir = path.join(cache, 'node_modules/@tensorflow/tfjs-tflite/wasm');
const base = 'http://goqat.invalid/wasm/';

// A file under the package's wasm folder, by the basename of a URL.
function local(url) {
  const name = String(url).split('/').pop().split('?')[0];
  const p = path.join(wasmDir, name);
  if (!fs.existsSync(p)) throw new Error('tflite_run: no such package file: ' + name);
  return p;
}

delete globalThis.SharedArrayBuffer; // single-threaded build
globalThis.self = globalThis;
globalThis.location = { origin: 'http://goqat.invalid', href: base + 'tflite_run.js' };
globalThis.importScripts = (...urls) => {
  for (const u of urls) vm.runInThisContext(fs.readFileSync(local(u), 'utf8'), { filename: local(u) });
};
globalThis.fetch = async (url) => {
  const data = fs.readFileSync(String(url).startsWith(base) ? local(url) : url);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return {
    ok: true, status: 200, url: String(url),
    headers: { get: (h) => (h.toLowerCase() === 'content-type' && String(url).endsWith('.wasm') ? 'application/wasm' : null) },
    arrayBuffer: async () => ab,
  };
};
// WebAssembly.instantiateStreaming needs a real Response; make the loader
// fall back to instantiate(arrayBuffer).
delete WebAssembly.instantiateStreaming;

globalThis.exports = {}; // the client script ends by exporting tfweb
importScripts(base + 'tflite_web_api_client.js');

async function main() {
  const n = Number(nArg);
  const tfweb = globalThis.exports.tfweb || globalThis.tfweb;
  tfweb.tflite_web_api.setWasmPath(base);
  const features = await tfweb.tflite_web_api.getWasmFeatures();
  if (features.multiThreading) throw new Error('tflite_run: the threaded build was chosen');
  const model = fs.readFileSync(modelPath);
  const create = () => tfweb.TFLiteWebModelRunner.create(
    model.buffer.slice(model.byteOffset, model.byteOffset + model.byteLength), { numThreads: 1 });
  let runner = await create();
  const inputs = runner.getInputs();
  const inBufs = inputs.map((t) => t.data());
  const inBytes = inBufs.map((d) => d.byteLength);
  const src = fs.readFileSync(inPath);
  const total = inBytes.reduce((a, b) => a + b, 0);
  if (src.length !== n * total) throw new Error(`tflite_run: ${inPath} holds ${src.length} bytes, want ${n} x ${total}`);
  let outs = runner.getOutputs();
  const outBytes = outs.map((o) => o.data().byteLength);
  const dst = outs.map((_, i) => Buffer.alloc(n * outBytes[i]));
  let inViews = inBufs.map((d, i) => new Uint8Array(d.buffer, d.byteOffset, inBytes[i]));
  const inStart = [];
  inBytes.reduce((a, b, i) => { inStart[i] = a; return a + n * b; }, 0);
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < n; s++) {
    if (fresh && s > 0) {
      runner.cleanUp();
      runner = await create();
      outs = runner.getOutputs();
      inViews = runner.getInputs().map((t, i) => { const d = t.data(); return new Uint8Array(d.buffer, d.byteOffset, inBytes[i]); });
    }
    inViews.forEach((v, i) => v.set(src.subarray(inStart[i] + s * inBytes[i], inStart[i] + (s + 1) * inBytes[i])));
    if (!runner.infer()) throw new Error('tflite_run: inference failed on sample ' + s);
    outs.forEach((o, i) => {
      const d = o.data();
      dst[i].set(new Uint8Array(d.buffer, d.byteOffset, outBytes[i]), s * outBytes[i]);
    });
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.writeFileSync(outPath, Buffer.concat(dst));
  const desc = (t) => `${t.name} ${t.dataType} [${t.shape}]`;
  console.log(`tflite_run: ${n} samples, inputs ${inputs.map(desc).join('; ')}, outputs ${outs.map(desc).join('; ')}, ` +
    `${(ms / Math.max(n, 1)).toFixed(3)} ms/sample (simd ${features.simd})`);
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
