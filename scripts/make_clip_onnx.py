# Builds a CLIP-shaped pair of ONNX towers with RANDOM weights, laid out like the transformers.js
# exports (onnx/text_model.onnx -> text_embeds, onnx/vision_model.onnx -> image_embeds), for
# plumbing tests of the image path where real CLIP weights cannot be downloaded.
#   vision: pixel_values [B,3,224,224] -> 16x16 average pooling -> flatten (588) -> linear -> image_embeds [B,D]
#   text:   input_ids, attention_mask [B,L] -> embedding -> masked mean -> linear -> text_embeds [B,D]
# Usage: /usr/bin/python3 make_clip_onnx.py OUT_DIR [--dim 32 --vocab 30522 --seed 0]
import sys, os, numpy as np, onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nh

args = sys.argv[1:]
out = args[0]
def opt(name, default):
    return int(args[args.index(name) + 1]) if name in args else default
D, V, seed = opt('--dim', 32), opt('--vocab', 30522), opt('--seed', 0)
rng = np.random.default_rng(seed)
os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)

def save(graph, name):
    model = h.make_model(graph, opset_imports=[h.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, 'onnx', name))

# vision tower
W = nh.from_array((rng.standard_normal((588, D)) * 0.05).astype(np.float32), 'W')
shape = nh.from_array(np.array([0, -1], np.int64), 'shape')
nodes = [
    h.make_node('AveragePool', ['pixel_values'], ['pooled'], kernel_shape=[16, 16], strides=[16, 16]),
    h.make_node('Reshape', ['pooled', 'shape'], ['flat']),
    h.make_node('MatMul', ['flat', 'W'], ['image_embeds']),
]
save(h.make_graph(nodes, 'vision', [h.make_tensor_value_info('pixel_values', TP.FLOAT, ['batch', 3, 224, 224])],
                  [h.make_tensor_value_info('image_embeds', TP.FLOAT, ['batch', D])], [W, shape]), 'vision_model.onnx')

# text tower
E = nh.from_array((rng.standard_normal((V, D)) * 0.05).astype(np.float32), 'E')
P = nh.from_array((rng.standard_normal((D, D)) * 0.2).astype(np.float32), 'P')
ax = nh.from_array(np.array([1], np.int64), 'ax')
nodes = [
    h.make_node('Gather', ['E', 'input_ids'], ['tok']),
    h.make_node('Cast', ['attention_mask'], ['maskf'], to=TP.FLOAT),
    h.make_node('Unsqueeze', ['maskf', 'ax2'], ['mask3']),
    h.make_node('Mul', ['tok', 'mask3'], ['masked']),
    h.make_node('ReduceSum', ['masked', 'ax'], ['summed'], keepdims=0),
    h.make_node('ReduceSum', ['maskf', 'ax'], ['count'], keepdims=1),
    h.make_node('Div', ['summed', 'count'], ['mean']),
    h.make_node('MatMul', ['mean', 'P'], ['text_embeds']),
]
ax2 = nh.from_array(np.array([2], np.int64), 'ax2')
save(h.make_graph(nodes, 'text', [h.make_tensor_value_info('input_ids', TP.INT64, ['batch', 'seq']),
                                  h.make_tensor_value_info('attention_mask', TP.INT64, ['batch', 'seq'])],
                  [h.make_tensor_value_info('text_embeds', TP.FLOAT, ['batch', D])], [E, P, ax, ax2]), 'text_model.onnx')
print('wrote', out)
