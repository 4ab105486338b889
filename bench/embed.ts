/**
 * Embedding throughput: Quiver's ONNX provider vs the @huggingface/transformers `feature-extraction`
 * pipeline (mean pooling + normalize) on the same model files, in one run.
 *
 *   npm run bench:embed            (npx tsx bench/embed.ts [--reps 3] [--tokens 2048])
 *
 * The model is e5-small-v2-shaped (12 layers, hidden 384, 12 heads, FFN 1536) with random weights,
 * built by ../shared/tools/make_bert_onnx.py into .cache/fixtures/e5-small-shape{,-q8}/ with the
 * real e5-small-v2 tokenizer beside it: the compute per token is the real model's. Each
 * implementation × variant runs in its own child process so peak RSS is its own.
 * Text sets hold about the same number of tokens: 16-, 128- and 512-token texts, and a mixed set
 * (16..512 tokens, the shape of real corpora, where padding every text to the longest costs most).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatInput, getModelSpec } from '../src/embed/registry.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const shared = join(root, '..', 'shared');
const fixtures = join(root, '.cache', 'fixtures');
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const REPS = Number(arg('reps', '3'));
const TOKENS_PER_SET = Number(arg('tokens', '2048'));
/** Multiply-adds of one token through e5-small-v2's encoder (×2 FLOP), excluding attention scores. */
const FLOP_PER_TOKEN = 2 * 12 * (4 * 384 * 384 + 2 * 384 * 1536); // ≈ 42.5 MFLOP

interface SetResult {
  set: string;
  texts: number;
  tokens: number;
  /** Median seconds over the reps. */
  seconds: number;
}
interface WorkerResult {
  impl: string;
  variant: string;
  loadSeconds: number;
  sets: SetResult[];
  peakRssMb: number;
}

function ensureModel(name: string, q8: boolean): string {
  const dir = join(fixtures, name);
  if (existsSync(join(dir, 'onnx', 'model.onnx'))) return dir;
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of [
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'vocab.txt',
    'config.json',
  ]) {
    copyFileSync(join(shared, 'models', 'e5-small-v2', f), join(dir, f));
  }
  console.error(`building ${name} (random weights, e5-small-v2 shape)…`);
  execFileSync(
    '/usr/bin/python3',
    [join(shared, 'tools', 'make_bert_onnx.py'), join(dir, 'onnx', 'model.onnx'), ...(q8 ? ['--q8'] : [])],
    { stdio: 'inherit' },
  );
  return dir;
}

/** Texts of exactly n tokens ([CLS] "passage" ":" words… [SEP]) from SciFact abstracts. */
async function makeSets(): Promise<Record<string, BenchSet>> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const dir = join(shared, 'models', 'e5-small-v2');
  const tok = new Tokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object,
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as object,
  );
  const words = readFileSync(join(shared, 'datasets', 'scifact', 'corpus.jsonl'), 'utf8')
    .split('\n')
    .slice(0, 400)
    .filter(Boolean)
    .flatMap((l) => (JSON.parse(l) as { text: string }).text.split(/\s+/))
    .filter((w) => w && tok.encode(w, { add_special_tokens: false }).ids.length === 1);
  let cursor = 0;
  // Raw texts of `n - 4` single-token words: with [CLS], "passage", ":" and [SEP] that is n tokens.
  const text = (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n - 4; i++) out.push(words[cursor++ % words.length]!);
    return out.join(' ');
  };
  const fixed = (n: number) =>
    Array.from({ length: Math.max(1, Math.round(TOKENS_PER_SET / n)) }, () => text(n));
  // Mixed lengths, log-uniform 16..512 (deterministic), until the token budget is spent.
  const mixed: string[] = [];
  for (let i = 0, spent = 0; spent < TOKENS_PER_SET; i++) {
    const n = Math.round(16 * 32 ** (((i * 0.618034) % 1) as number));
    mixed.push(text(n));
    spent += n;
  }
  const describe = (raw: string[]): BenchSet => {
    const formatted = raw.map((t) => formatInput(getModelSpec('e5-small-v2'), t, { role: 'document' }));
    const tokens = formatted.reduce((n, t) => n + Math.min(512, tok.encode(t).ids.length), 0);
    return { raw, formatted, tokens };
  };
  return {
    '16 tok': describe(fixed(16)),
    '128 tok': describe(fixed(128)),
    '512 tok': describe(fixed(512)),
    mixed: describe(mixed),
  };
}

interface BenchSet {
  raw: string[];
  /** The same texts as the model sees them ("passage: …"), for the pipeline. */
  formatted: string[];
  tokens: number;
}

async function worker(impl: string, variant: string, setsPath: string): Promise<void> {
  const sets = JSON.parse(readFileSync(setsPath, 'utf8')) as Record<string, BenchSet>;
  const dir = join(fixtures, variant === 'int8' ? 'e5-small-shape-q8' : 'e5-small-shape');
  let embed: (set: BenchSet, n?: number) => Promise<unknown>;
  const t0 = performance.now();
  if (impl === 'quiver') {
    const { createEmbedder } = await import('../src/embed/index.js');
    // The q8 fixture stores its int8 graph as onnx/model.onnx, so it loads as the "fp32" file;
    // batchSize 1 is what the int8 variant defaults to (batch-independent vectors).
    const quiver = await createEmbedder('e5-small-v2', {
      modelDir: dir,
      ...(variant === 'int8' ? { batchSize: 1 } : {}),
    });
    embed = (set, n) => quiver.embed(set.raw.slice(0, n), { role: 'document' });
  } else {
    const { env, pipeline } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = fixtures + '/';
    const name = variant === 'int8' ? 'e5-small-shape-q8' : 'e5-small-shape';
    const extractor = await pipeline('feature-extraction', name, { dtype: 'fp32' });
    embed = (set, n) => extractor(set.formatted.slice(0, n), { pooling: 'mean', normalize: true });
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const results: SetResult[] = [];
  for (const [name, set] of Object.entries(sets)) {
    await embed(set, 2); // warm up
    const times: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const s = performance.now();
      await embed(set);
      times.push((performance.now() - s) / 1000);
    }
    times.sort((a, b) => a - b);
    results.push({
      set: name,
      texts: set.raw.length,
      tokens: set.tokens,
      seconds: times[Math.floor(times.length / 2)]!,
    });
  }
  const out: WorkerResult = {
    impl,
    variant,
    loadSeconds,
    sets: results,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(out));
}

/** Achievable fp32 GFLOP/s of this machine through onnxruntime: a chain of [256×384]·[384×1536] MatMuls. */
async function measureGflops(): Promise<number> {
  const path = join(fixtures, 'matmul-probe.onnx');
  if (!existsSync(path)) {
    execFileSync('/usr/bin/python3', [
      '-c',
      `import numpy as np, onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nh
W1 = nh.from_array((np.random.default_rng(0).standard_normal((384, 1536)) * 0.02).astype(np.float32), 'W1')
W2 = nh.from_array((np.random.default_rng(1).standard_normal((1536, 384)) * 0.02).astype(np.float32), 'W2')
nodes, x = [], 'x'
for i in range(8):
    nodes.append(h.make_node('MatMul', [x, 'W1'], [f'a{i}']))
    nodes.append(h.make_node('MatMul', [f'a{i}', 'W2'], [f'b{i}']))
    x = f'b{i}'
g = h.make_graph(nodes, 'mm', [h.make_tensor_value_info('x', TP.FLOAT, [256, 384])],
                 [h.make_tensor_value_info(x, TP.FLOAT, [256, 384])], [W1, W2])
m = h.make_model(g, opset_imports=[h.make_opsetid('', 17)]); m.ir_version = 8
onnx.save(m, '${path}')`,
    ]);
  }
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(path);
  const x = new ort.Tensor('float32', new Float32Array(256 * 384).fill(0.01), [256, 384]);
  await session.run({ x });
  const flops = 8 * 2 * (2 * 256 * 384 * 1536);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const s = performance.now();
    await session.run({ x });
    times.push((performance.now() - s) / 1000);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return flops / times[0]! / 1e9;
}

async function main(): Promise<void> {
  if (args[0] === '--worker') return worker(args[1]!, args[2]!, args[3]!);
  ensureModel('e5-small-shape', false);
  ensureModel('e5-small-shape-q8', true);
  const sets = await makeSets();
  const setsPath = join(fixtures, 'bench-embed-sets.json');
  writeFileSync(setsPath, JSON.stringify(sets));
  const gflops = await measureGflops();

  const runs: WorkerResult[] = [];
  for (const variant of ['fp32', 'int8']) {
    for (const impl of ['quiver', 'pipeline']) {
      console.error(`running ${impl} ${variant}…`);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', impl, variant, setsPath],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 24,
        },
      );
      if (r.status !== 0) throw new Error(`${impl} ${variant} failed:\n${r.stderr}`);
      runs.push(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as WorkerResult);
    }
  }

  console.log(
    `\nEmbedding throughput, e5-small-v2 shape (random weights), ${REPS} reps (median), node ${process.version}`,
  );
  console.log(`machine: measured ${gflops.toFixed(1)} GFLOP/s fp32 through onnxruntime MatMul (2 cores)`);
  console.log(
    `FLOP limit for this shape ≈ ${(FLOP_PER_TOKEN / 1e6).toFixed(1)} MFLOP/token → ${((gflops * 1e9) / FLOP_PER_TOKEN).toFixed(0)} tokens/s at that rate\n`,
  );
  const header = [
    'variant',
    'set',
    'texts',
    'tokens',
    'quiver tok/s',
    'pipeline tok/s',
    'ratio',
    'quiver ms/text',
    'pipeline ms/text',
    'quiver % of FLOP limit',
  ];
  const rows: string[][] = [];
  for (const variant of ['fp32', 'int8']) {
    const q = runs.find((r) => r.impl === 'quiver' && r.variant === variant)!;
    const p = runs.find((r) => r.impl === 'pipeline' && r.variant === variant)!;
    q.sets.forEach((qs, i) => {
      const ps = p.sets[i]!;
      const qtps = qs.tokens / qs.seconds;
      const ptps = ps.tokens / ps.seconds;
      rows.push([
        variant,
        qs.set,
        String(qs.texts),
        String(qs.tokens),
        qtps.toFixed(0),
        ptps.toFixed(0),
        `${(qtps / ptps).toFixed(2)}×`,
        ((qs.seconds * 1000) / qs.texts).toFixed(1),
        ((ps.seconds * 1000) / ps.texts).toFixed(1),
        variant === 'fp32' ? `${((100 * qtps * FLOP_PER_TOKEN) / (gflops * 1e9)).toFixed(0)}%` : '-',
      ]);
    });
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('\npeak RSS (MB) and load time (s) per process:');
  for (const r of runs)
    console.log(
      `  ${r.impl.padEnd(8)} ${r.variant}: ${r.peakRssMb.toFixed(0)} MB, load ${r.loadSeconds.toFixed(2)} s`,
    );
}

await main();
