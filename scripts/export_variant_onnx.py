#!/usr/bin/env python3
"""Rewrite an ONNX text encoder into the other export layout seen on the hub, with the same weights.

sentence-transformers-style exports name the per-token output `token_embeddings` and put a pooled
`sentence_embedding` (2-D) first; decoder exports (Mistral, Qwen) take `position_ids`. Quiver must
pick the per-token output and feed position ids; the tests compare against the original model.

Usage: export_variant_onnx.py <in.onnx> <out.onnx>
"""
import sys

import onnx
from onnx import TensorProto, helper

src, dst = sys.argv[1], sys.argv[2]
m = onnx.load(src)
g = m.graph
(hidden,) = [o for o in g.output if o.name == "last_hidden_state"]
for node in g.node:
    node.output[:] = ["token_embeddings_raw" if o == "last_hidden_state" else o for o in node.output]
hidden_dim = hidden.type.tensor_type.shape.dim[2].dim_value

# position_ids: a required input, folded into the output as 0 * sum(position_ids) so it is used.
pos = helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
g.input.append(pos)
g.node.extend(
    [
        helper.make_node("Cast", ["position_ids"], ["pos_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["pos_f"], ["pos_sum"], keepdims=0),
        helper.make_node("Mul", ["pos_sum", "zero"], ["pos_zero"]),
        helper.make_node("Add", ["token_embeddings_raw", "pos_zero"], ["token_embeddings"]),
        helper.make_node("ReduceMean", ["token_embeddings"], ["sentence_embedding"], axes=[1], keepdims=0),
    ]
)
g.initializer.append(helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]))
del g.output[:]
g.output.extend(
    [
        helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch_size", hidden_dim]),
        helper.make_tensor_value_info(
            "token_embeddings", TensorProto.FLOAT, ["batch_size", "sequence_length", hidden_dim]
        ),
    ]
)
onnx.checker.check_model(m)
onnx.save(m, dst)
