// Runs an ONNX model with several inputs and outputs in ONNX Runtime for
// Node.js. Used by the Go tests (format/onnx/torchvision_pipeline_test.go)
// to run every op of an exported QDQ graph on goqat's own int8 values.
//
//   node onnx_run.js ORT_DIR MODEL.onnx DIR
//
// DIR/manifest.json lists the feeds and the outputs to fetch:
//
//   {"inputs": [{"name": "x", "type": "float32", "dims": [2, 64, 64, 3], "file": "x.bin"}, ...],
//    "outputs": ["y", ...]}
//
// Input files are raw little-endian values of the given type (float32 or
// int8); output k is written to DIR/out<k>.bin as its raw values (int8
// outputs one byte per value). The model runs with 2 intra-op threads and
// all graph optimizations (GOQAT_ORT_OPT overrides the level), as in
// onnx_conformance.js.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [ortDir, modelPath, dir] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node onnx_run.js ORT_DIR MODEL.onnx DIR');
    process.exit(2);
  }
  const ort = require(path.join(path.resolve(ortDir), 'node_modules', 'onnxruntime-node'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    graphOptimizationLevel: process.env.GOQAT_ORT_OPT || 'all',
    executionProviders: ['cpu'],
  });
  const feeds = {};
  for (const inp of manifest.inputs) {
    const buf = fs.readFileSync(path.join(dir, inp.file));
    let data;
    switch (inp.type) {
      case 'float32':
        data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
        break;
      case 'int8':
        data = new Int8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
        break;
      default:
        throw new Error(`input ${inp.name}: type ${inp.type} is not supported`);
    }
    feeds[inp.name] = new ort.Tensor(inp.type, data, inp.dims);
  }
  const res = await session.run(feeds, manifest.outputs);
  manifest.outputs.forEach((name, k) => {
    const d = res[name].data;
    fs.writeFileSync(path.join(dir, `out${k}.bin`), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  });
  console.log(`${path.basename(modelPath)}: ONNX Runtime ran ${manifest.inputs.length} inputs -> ${manifest.outputs.length} outputs`);
}

main().catch((e) => {
  console.error(String(e && e.message ? e.message : e).split('\n')[0]);
  process.exit(1);
});
