# Builds a cross-encoder-shaped ONNX model with RANDOM weights (inputs input_ids, attention_mask,
# token_type_ids [B,L]; output logits [B,1]) for plumbing tests of the reranking stage.
# Usage: /usr/bin/python3 make_cross_encoder_onnx.py OUT_DIR [--dim 32 --vocab 30522 --seed 0]
import sys, os, numpy as np, onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nh

args = sys.argv[1:]
out = args[0]
def opt(name, default):
    return int(args[args.index(name) + 1]) if name in args else default
D, V, seed = opt('--dim', 32), opt('--vocab', 30522), opt('--seed', 0)
rng = np.random.default_rng(seed)
os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
inits = [
    nh.from_array((rng.standard_normal((V, D)) * 0.05).astype(np.float32), 'E'),
    nh.from_array((rng.standard_normal((2, D)) * 0.05).astype(np.float32), 'T'),
    nh.from_array((rng.standard_normal((D, 1)) * 0.5).astype(np.float32), 'W'),
    nh.from_array(np.array([1], np.int64), 'ax'),
    nh.from_array(np.array([2], np.int64), 'ax2'),
]
nodes = [
    h.make_node('Gather', ['E', 'input_ids'], ['tok']),
    h.make_node('Gather', ['T', 'token_type_ids'], ['typ']),
    h.make_node('Add', ['tok', 'typ'], ['emb']),
    h.make_node('Tanh', ['emb'], ['act']),
    h.make_node('Cast', ['attention_mask'], ['maskf'], to=TP.FLOAT),
    h.make_node('Unsqueeze', ['maskf', 'ax2'], ['mask3']),
    h.make_node('Mul', ['act', 'mask3'], ['masked']),
    h.make_node('ReduceSum', ['masked', 'ax'], ['summed'], keepdims=0),
    h.make_node('ReduceSum', ['maskf', 'ax'], ['count'], keepdims=1),
    h.make_node('Div', ['summed', 'count'], ['mean']),
    h.make_node('MatMul', ['mean', 'W'], ['logits']),
]
ins = [h.make_tensor_value_info(n, TP.INT64, ['batch', 'seq']) for n in ('input_ids', 'attention_mask', 'token_type_ids')]
graph = h.make_graph(nodes, 'cross_encoder', ins, [h.make_tensor_value_info('logits', TP.FLOAT, ['batch', 1])], inits)
model = h.make_model(graph, opset_imports=[h.make_opsetid('', 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, 'onnx', 'model.onnx'))
print('wrote', out)
