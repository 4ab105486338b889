# Builds a BERT-masked-language-model-shaped ONNX model with RANDOM weights, the shape SPLADE
# encoders have (naver/splade-*, prithivida/Splade_PP_en_v1): embeddings -> transformer layers ->
# MLM head (dense, GELU, LayerNorm, decoder to the vocabulary). Inputs input_ids / attention_mask /
# token_type_ids [B, L] (int64). onnx/model.onnx outputs logits [B, L, vocab], like an Optimum
# `--task fill-mask` export; onnx/model_pooled.onnx has the same weights and does the SPLADE pooling
# in the graph (output sparse_weights [B, vocab]), an independent reference for the TypeScript pooling.
# The weights are meaningless; the fixture exists to test the sparse encoder's plumbing and pooling
# maths (log(1 + ReLU) max-pooled over tokens) against logits computed independently.
# The decoder bias is negative so, as in trained SPLADE models, most logits are below zero and the
# pooled vectors are sparse (a few percent of the vocabulary), which makes zero-dropping and top-k
# pruning observable.
# Usage: /usr/bin/python3 make_splade_onnx.py OUT_DIR [--layers 1 --hidden 32 --heads 2 --ffn 64 --vocab 30522 --seed 0]
import argparse, os
import numpy as np
import onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nh


def build(V, H, L, NH, I, P=512, seed=0, pooled=False):
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    count = [0]

    def fresh(prefix):
        count[0] += 1
        return f'{prefix}_{count[0]}'

    def init(arr, prefix):
        n = fresh(prefix)
        inits.append(nh.from_array(np.asarray(arr), n))
        return n

    def node(op, ins, attrs=None):
        out = fresh(op)
        nodes.append(h.make_node(op, ins, [out], **(attrs or {})))
        return out

    def rnd(*shape, scale=0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def layer_norm(x, width):
        g = init(np.ones(width, np.float32), 'ln_g')
        b = init(np.zeros(width, np.float32), 'ln_b')
        return node('LayerNormalization', [x, g, b], {'axis': -1, 'epsilon': 1e-12})

    def linear(x, fin, fout, scale=0.02):
        return node('Add', [node('MatMul', [x, init(rnd(fin, fout, scale=scale), 'W')]), init(np.zeros(fout, np.float32), 'b')])

    def gelu(x):
        half = init(np.array(0.5, np.float32), 'half')
        one = init(np.array(1.0, np.float32), 'one')
        sqrt2 = init(np.array(np.sqrt(2.0), np.float32), 'sqrt2')
        return node('Mul', [node('Mul', [x, half]), node('Add', [node('Erf', [node('Div', [x, sqrt2])]), one])])

    word_emb = rnd(V, H)
    we = node('Gather', [init(word_emb, 'word_emb'), 'input_ids'])
    seq_len = node('Gather', [node('Shape', ['input_ids']), init(np.array(1, np.int64), 'axis1')], {'axis': 0})
    positions = node('Range', [init(np.array(0, np.int64), 'zero'), seq_len, init(np.array(1, np.int64), 'step')])
    pe = node('Gather', [init(rnd(P, H), 'pos_emb'), positions])
    te = node('Gather', [init(rnd(2, H), 'type_emb'), 'token_type_ids'])
    x = layer_norm(node('Add', [node('Add', [we, pe]), te]), H)

    # Additive attention mask: 0 for real tokens, -10000 for padding (as BERT exports do), so a
    # padded batch gives every real token exactly the attention it gets alone.
    m = node('Cast', ['attention_mask'], {'to': TP.FLOAT})
    m = node('Mul', [node('Sub', [init(np.array(1.0, np.float32), 'onef'), m]), init(np.array(-10000.0, np.float32), 'neg')])
    m = node('Unsqueeze', [m, init(np.array([1, 2], np.int64), 'axes')])
    hd = H // NH
    split = init(np.array([0, 0, NH, hd], np.int64), 'split')
    merge = init(np.array([0, 0, H], np.int64), 'merge')
    for _ in range(L):
        q = node('Transpose', [node('Reshape', [linear(x, H, H), split])], {'perm': [0, 2, 1, 3]})
        k = node('Transpose', [node('Reshape', [linear(x, H, H), split])], {'perm': [0, 2, 3, 1]})
        v = node('Transpose', [node('Reshape', [linear(x, H, H), split])], {'perm': [0, 2, 1, 3]})
        scores = node('Mul', [node('MatMul', [q, k]), init(np.array(1.0 / np.sqrt(hd), np.float32), 'scale')])
        probs = node('Softmax', [node('Add', [scores, m])], {'axis': -1})
        ctx = node('Reshape', [node('Transpose', [node('MatMul', [probs, v])], {'perm': [0, 2, 1, 3]}), merge])
        x = layer_norm(node('Add', [x, linear(ctx, H, H)]), H)
        x = layer_norm(node('Add', [x, linear(gelu(linear(x, H, I)), I, H)]), H)

    # MLM head (BertOnlyMLMHead): transform = dense + GELU + LayerNorm, then the decoder to the
    # vocabulary with its own bias. Decoder weights are scaled so logits have roughly unit spread;
    # the bias (mean -2.5) keeps about 1% of a token's logits positive.
    t = layer_norm(gelu(linear(x, H, H, scale=0.2)), H)
    decoder = rnd(H, V, scale=1.0 / np.sqrt(H))
    bias = (rng.standard_normal(V) * 0.3 - 2.5).astype(np.float32)
    logits = node('Add', [node('MatMul', [t, init(decoder, 'decoder')]), init(bias, 'decoder_bias')])
    if pooled:
        # SPLADE pooling inside the graph, as some exports (anserini's) do: log(1 + ReLU(logits)),
        # zeroed at padding positions (all values are >= 0, so zero never wins a max it should
        # not), max over the sequence -> [batch, vocab].
        act = node('Log', [node('Add', [node('Relu', [logits]), init(np.array(1.0, np.float32), 'one_p')])])
        keep = node('Unsqueeze', [node('Cast', ['attention_mask'], {'to': TP.FLOAT}), init(np.array([2], np.int64), 'ax2')])
        pooled_out = node('ReduceMax', [node('Mul', [act, keep])], {'axes': [1], 'keepdims': 0})
        nodes.append(h.make_node('Identity', [pooled_out], ['sparse_weights']))
        out = h.make_tensor_value_info('sparse_weights', TP.FLOAT, ['batch_size', V])
    else:
        nodes.append(h.make_node('Identity', [logits], ['logits']))
        out = h.make_tensor_value_info('logits', TP.FLOAT, ['batch_size', 'sequence_length', V])

    ins = [h.make_tensor_value_info(n, TP.INT64, ['batch_size', 'sequence_length'])
           for n in ('input_ids', 'attention_mask', 'token_type_ids')]
    graph = h.make_graph(nodes, 'bert_mlm_random', ins, [out], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid('', 17)], producer_name='synthetic-random-fixture')
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description='random-weight BERT-MLM (SPLADE-shaped) ONNX fixture')
    ap.add_argument('out_dir')
    ap.add_argument('--layers', type=int, default=1)
    ap.add_argument('--hidden', type=int, default=32)
    ap.add_argument('--heads', type=int, default=2)
    ap.add_argument('--ffn', type=int, default=64)
    ap.add_argument('--vocab', type=int, default=30522)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out_dir, 'onnx'), exist_ok=True)
    # The same weights twice (same seed): raw logits, and with SPLADE pooling in the graph — the
    # second is an independent reference for the pooling done in TypeScript.
    for pooled, name in ((False, 'model.onnx'), (True, 'model_pooled.onnx')):
        model = build(a.vocab, a.hidden, a.layers, a.heads, a.ffn, seed=a.seed, pooled=pooled)
        onnx.save(model, os.path.join(a.out_dir, 'onnx', name))
    print('wrote', a.out_dir)
