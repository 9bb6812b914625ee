#!/usr/bin/python3
"""Check ONNX files with the official checker (full check, shape inference).

Usage: /usr/bin/python3 scripts/onnx_check.py FILE.onnx...

Prints one line per file and exits non-zero if any file fails. Needs the
onnx package (Debian: apt-get install python3-onnx).
"""
import sys

import onnx


def main(paths):
    if not paths:
        print("usage: onnx_check.py FILE.onnx...", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # the checker raises several error types
            msg = " ".join(str(e).split())
            print(f"FAIL {path}: {msg}")
            failed += 1
            continue
        ops = sorted({n.op_type for n in model.graph.node})
        opset = ",".join(f"{o.domain or 'ai.onnx'}:{o.version}" for o in model.opset_import)
        print(f"ok   {path}: ir {model.ir_version}, opset {opset}, "
              f"{len(model.graph.node)} nodes ({' '.join(ops)}), producer {model.producer_name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
