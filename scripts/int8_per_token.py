# Rewrites a dynamically quantised int8 ONNX model (onnxruntime quantize_dynamic / Optimum /
# transformers.js "model_quantized.onnx": DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul)
# so each token's activations get their own scale instead of one scale for the whole padded batch.
#
# Why: DynamicQuantizeLinear picks one scale and zero point per tensor, i.e. per padded batch, so a
# text's int8 vector depends on its batch-mates (and on their padding). With one scale per token
# (per row of the last axis) nothing crosses rows, so batched and one-at-a-time vectors are equal
# and Quiver can batch int8 models like fp32 ones.
#
# How: symmetric per-row quantisation with a fixed zero point of 128 -- q = round(x / s) + 128 with
# s = max|x_row| / 127 -- so MatMulInteger keeps a scalar uint8 zero point (onnxruntime's fast
# uint8 x int8 kernel) while the scale, applied after the int32 accumulation, is per row. The int8
# weights are untouched. Only DynamicQuantizeLinear nodes whose quantised output feeds MatMulInteger
# as the A input against constant weights, and whose scale feeds Mul nodes, are rewritten; anything
# else is left as is and reported (the model is then not batch-invariant, and Quiver's load-time
# probe will keep it at one text per pass).
#
# Needs Debian's python3-onnx and python3-numpy.
# Usage: /usr/bin/python3 scripts/int8_per_token.py IN.onnx OUT.onnx
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh


def convert(model: onnx.ModelProto) -> tuple[int, int]:
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), 13)
    constants = {t.name for t in g.initializer} | {o for n in g.node if n.op_type == 'Constant' for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    count = [0]

    def fresh(prefix: str) -> str:
        count[0] += 1
        return f'per_token_{prefix}_{count[0]}'

    def const(arr: np.ndarray, prefix: str) -> str:
        name = fresh(prefix)
        g.initializer.append(nh.from_array(arr, name))
        return name

    c127 = const(np.array(127.0, np.float32), 'c127')
    c128 = const(np.array(128.0, np.float32), 'c128')
    tiny = const(np.array(1e-30, np.float32), 'tiny')  # an all-zero row keeps scale > 0
    zp128 = const(np.array(128, np.uint8), 'zp128')
    axes = const(np.array([-1], np.int64), 'axes') if opset >= 18 else None

    def eligible(n: onnx.NodeProto) -> bool:
        xq, xs, xz = n.output
        mmi = consumers.get(xq, [])
        if not mmi or any(c.op_type != 'MatMulInteger' or c.input[0] != xq for c in mmi):
            return False
        if any(len(c.input) < 3 or c.input[2] != xz or c.input[1] not in constants for c in mmi):
            return False
        if any(c not in mmi for c in consumers.get(xz, [])):
            return False
        return all(c.op_type == 'Mul' for c in consumers.get(xs, []))

    rewritten = skipped = 0
    nodes: list[onnx.NodeProto] = []
    for n in g.node:
        if n.op_type != 'DynamicQuantizeLinear':
            nodes.append(n)
            continue
        if not eligible(n):
            skipped += 1
            nodes.append(n)
            continue
        x = n.input[0]
        xq, xs, xz = n.output
        a, amax, ratio, q, r, u = (fresh(p) for p in ('abs', 'absmax', 'ratio', 'q', 'round', 'u'))
        reduce = (
            h.make_node('ReduceMax', [a, axes], [amax], keepdims=1)
            if axes
            else h.make_node('ReduceMax', [a], [amax], axes=[-1], keepdims=1)
        )
        nodes += [
            h.make_node('Abs', [x], [a]),
            reduce,
            h.make_node('Div', [amax, c127], [ratio]),
            h.make_node('Max', [ratio, tiny], [xs]),  # the per-row scale, shape [..., 1]
            h.make_node('Div', [x, xs], [q]),
            h.make_node('Round', [q], [r]),  # in [-127, 127]
            h.make_node('Add', [r, c128], [u]),
            h.make_node('Cast', [u], [xq], to=TP.UINT8),
        ]
        for c in consumers.get(xq, []):
            c.input[2] = zp128
        rewritten += 1
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    kept = [t for t in g.initializer if t.name in used or t.name in {o.name for o in g.output}]
    del g.initializer[:]
    g.initializer.extend(kept)
    return rewritten, skipped


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: int8_per_token.py IN.onnx OUT.onnx')
    m = onnx.load(sys.argv[1])
    done, left = convert(m)
    if done == 0:
        sys.exit(f'{sys.argv[1]}: no DynamicQuantizeLinear -> MatMulInteger pattern to rewrite')
    onnx.checker.check_model(m)
    onnx.save(m, sys.argv[2])
    print(f'{sys.argv[2]}: {done} activation quantisations made per-token' + (f', {left} left per-tensor' if left else ''))
    if left:
        sys.exit(2)
