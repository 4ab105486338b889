# Builds a cross-encoder-shaped ONNX model with RANDOM weights (inputs input_ids, attention_mask,
# token_type_ids [B,L]; output logits [B,1]) for plumbing tests of the reranking stage.
# Usage: /usr/bin/python3 make_cross_encoder_onnx.py OUT_DIR [--dim 32 --vocab 30522 --seed 0]
#   default: embeddings + mean pooling + a linear head (tiny, for unit tests)
#   --layers N [--hidden 384 --heads 12 --ffn 1536]: a real BERT encoder (../shared/tools/make_bert_onnx.py)
#   with a BertForSequenceClassification head on [CLS] (pooler dense + tanh, then 1 logit), so the
#   compute per pair equals a cross-encoder of that shape (e5-small / MiniLM-L12: --layers 12), for benchmarks.
import sys, os, numpy as np, onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nh

args = sys.argv[1:]
out = args[0]
def opt(name, default):
    return int(args[args.index(name) + 1]) if name in args else default
D, V, seed = opt('--dim', 32), opt('--vocab', 30522), opt('--seed', 0)
rng = np.random.default_rng(seed)
os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)

if '--layers' in args:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'tools'))
    from make_bert_onnx import build
    H = opt('--hidden', 384)
    bert = build(V=V, H=H, L=opt('--layers', 12), NH=opt('--heads', 12), I=opt('--ffn', 1536), seed=seed)
    g = bert.graph
    del g.output[:]
    g.initializer.extend([
        nh.from_array(np.array(0, np.int64), 'cls_index'),
        nh.from_array((rng.standard_normal((H, H)) * 0.02).astype(np.float32), 'pool_W'),
        nh.from_array(np.zeros(H, np.float32), 'pool_b'),
        nh.from_array((rng.standard_normal((H, 1)) * 0.5).astype(np.float32), 'cls_W'),
        nh.from_array(np.zeros(1, np.float32), 'cls_b'),
    ])
    g.node.extend([
        h.make_node('Gather', ['last_hidden_state', 'cls_index'], ['cls'], axis=1),
        h.make_node('MatMul', ['cls', 'pool_W'], ['pool_mm']),
        h.make_node('Add', ['pool_mm', 'pool_b'], ['pool_pre']),
        h.make_node('Tanh', ['pool_pre'], ['pooled']),
        h.make_node('MatMul', ['pooled', 'cls_W'], ['cls_mm']),
        h.make_node('Add', ['cls_mm', 'cls_b'], ['logits']),
    ])
    g.output.extend([h.make_tensor_value_info('logits', TP.FLOAT, ['batch_size', 1])])
    onnx.checker.check_model(bert)
    onnx.save(bert, os.path.join(out, 'onnx', 'model.onnx'))
    print('wrote', out, '(BERT cross-encoder, random weights)')
    sys.exit(0)
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
