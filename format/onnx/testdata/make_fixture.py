#!/usr/bin/python3
"""Writes fixture.onnx: a small float CNN made with onnx.helper, the way
another tool would write it (NCHW input, Conv + BatchNormalization, a
depthwise Conv, a residual Add, a Concat, Pad, pools, Flatten of an NCHW
tensor, Gemm, MatMul + Add, Softmax), for goqat's import tests.

Run from the repository root: /usr/bin/python3 format/onnx/testdata/make_fixture.py
(Debian's python3-onnx 1.12 and numpy). The weights come from a fixed seed,
so the file is reproducible.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20261127)


def w(name, *shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    s = scale if scale is not None else np.sqrt(2.0 / fan_in)
    return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)


def const(name, arr, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(arr, dtype=dtype), name)


inits = [
    w("stem.w", 8, 1, 3, 3), const("stem.b", rng.standard_normal(8) * 0.1),
    const("bn.scale", 0.5 + rng.random(8)), const("bn.bias", rng.standard_normal(8) * 0.1),
    const("bn.mean", rng.standard_normal(8) * 0.1), const("bn.var", 0.5 + rng.random(8)),
    w("dw.w", 8, 1, 3, 3), const("dw.b", rng.standard_normal(8) * 0.1),
    const("clip.min", 0.0), const("clip.max", 6.0),
    w("pw.w", 8, 8, 1, 1), const("pw.b", rng.standard_normal(8) * 0.1),
    w("side.w", 4, 8, 1, 1),
    const("pad.pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64),
    w("fc1.w", 32, 12 * 8 * 8), const("fc1.b", rng.standard_normal(32) * 0.1),
    w("fc2.w", 32, 10), const("fc2.b", rng.standard_normal(10) * 0.1),
]

nodes = [
    helper.make_node("Conv", ["image", "stem.w", "stem.b"], ["stem"], name="stem", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["stem", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["bn"], name="bn", epsilon=1e-5),
    helper.make_node("Relu", ["bn"], ["relu"], name="relu"),
    # Depthwise 3x3 stride 2, padded like TensorFlow's 'same' (SAME_UPPER).
    helper.make_node("Conv", ["relu", "dw.w", "dw.b"], ["dw"], name="dw", kernel_shape=[3, 3], strides=[2, 2],
                     pads=[0, 0, 1, 1], group=8),
    helper.make_node("Clip", ["dw", "clip.min", "clip.max"], ["dw6"], name="dw_relu6"),
    helper.make_node("Conv", ["dw6", "pw.w", "pw.b"], ["pw"], name="pw", kernel_shape=[1, 1]),
    helper.make_node("Add", ["dw6", "pw"], ["res"], name="residual"),
    helper.make_node("Conv", ["dw6", "side.w"], ["side"], name="side", kernel_shape=[1, 1]),
    helper.make_node("Concat", ["res", "side"], ["cat"], name="concat", axis=1),
    helper.make_node("Pad", ["cat", "pad.pads"], ["padded"], name="pad", mode="constant"),
    helper.make_node("MaxPool", ["padded"], ["mp"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("AveragePool", ["mp"], ["ap"], name="avgpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                     count_include_pad=0),
    helper.make_node("Flatten", ["ap"], ["flat"], name="flatten", axis=1),
    helper.make_node("Gemm", ["flat", "fc1.w", "fc1.b"], ["fc1"], name="fc1", transB=1),
    helper.make_node("Relu", ["fc1"], ["fc1r"], name="fc1_relu"),
    helper.make_node("MatMul", ["fc1r", "fc2.w"], ["fc2m"], name="fc2"),
    helper.make_node("Add", ["fc2m", "fc2.b"], ["logits"], name="fc2_bias"),
    helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
]

graph = helper.make_graph(
    nodes, "fixture_cnn",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 28, 28])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
    initializer=inits)
model = helper.make_model(graph, producer_name="onnx.helper", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture.onnx")
onnx.save(model, out)
print("wrote", out, os.path.getsize(out), "bytes")
