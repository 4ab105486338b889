/**
 * Embedding throughput: Quiver's ONNX provider vs the @huggingface/transformers `feature-extraction`
 * pipeline (mean pooling + normalize) on the same model, in one run.
 *
 *   npm run bench:embed            (npx tsx bench/embed.ts [--reps 5] [--tokens 2048])
 *
 * The model is e5-small-v2-shaped (12 layers, hidden 384, 12 heads, FFN 1536) with random weights,
 * built by ../shared/tools/make_bert_onnx.py into .cache/fixtures/e5-small-shape{,-q8}/ with the
 * real e5-small-v2 tokenizer beside it: the compute per token is the real model's. The int8 file
 * is also rewritten by scripts/int8_per_token.py (same int8 weights, one activation scale per
 * token) into e5-small-shape-q8-pt/, which Quiver batches because it is batch-invariant; the
 * pipeline runs the stock per-tensor file (its fastest), and Quiver on that file (one text per
 * pass, its default there) is shown too.
 * Text sets hold about the same number of tokens: 16-, 128- and 512-token texts, and a mixed set
 * (16..512 tokens, the shape of real corpora, where padding every text to the longest costs most).
 *
 * The machine is shared, so every implementation runs in its own long-lived child process (peak
 * RSS is its own) and the parent interleaves them: per set and repetition it measures the
 * machine's MatMul rate, then each implementation once, alternating the order. Ratios are the
 * median of these paired ratios; tokens/s are medians.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
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
const REPS = Number(arg('reps', '5'));
const TOKENS_PER_SET = Number(arg('tokens', '2048'));
/** FLOP of one token through e5-small-v2's encoder: Q/K/V/output projections and the FFN (2 × multiply-adds). */
const FLOP_PER_TOKEN = 2 * 12 * (4 * 384 * 384 + 2 * 384 * 1536); // ≈ 42.5 MFLOP
/** Plus attention: QKᵀ and attention·V cost 2 × 384 multiply-adds per token per position, per layer. */
const ATTENTION_FLOP_PER_TOKEN_PER_POSITION = 2 * 12 * 2 * 384; // 18.4 kFLOP × sequence length

/** The per-token rewrite of an int8 fixture (scripts/int8_per_token.py), beside it. */
function ensurePerTokenModel(from: string, name: string): void {
  const dir = join(fixtures, name);
  if (existsSync(join(dir, 'onnx', 'model.onnx'))) return;
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of [
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'vocab.txt',
    'config.json',
  ])
    copyFileSync(join(fixtures, from, f), join(dir, f));
  execFileSync(
    '/usr/bin/python3',
    [
      join(root, 'scripts', 'int8_per_token.py'),
      join(fixtures, from, 'onnx', 'model.onnx'),
      join(dir, 'onnx', 'model.onnx'),
    ],
    { stdio: 'inherit' },
  );
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
    const lengths = formatted.map((t) => Math.min(512, tok.encode(t).ids.length));
    const tokens = lengths.reduce((a, b) => a + b, 0);
    // Useful work: each text at its own length (padding is overhead, not work).
    const flops = lengths.reduce(
      (f, n) => f + n * (FLOP_PER_TOKEN + ATTENTION_FLOP_PER_TOKEN_PER_POSITION * n),
      0,
    );
    return { raw, formatted, tokens, flops };
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
  /** FLOP to embed every text unpadded. */
  flops: number;
}

interface Contender {
  /** Row label. */
  label: string;
  variant: 'fp32' | 'int8';
  impl: 'quiver' | 'pipeline';
  /** Fixture folder name under .cache/fixtures. */
  model: string;
  /**
   * 'quiver': onnxruntime as Quiver sets it up (no spinning between operators); 'ort-default':
   * onnxruntime's defaults, which is what the pipeline uses unless given session_options.
   */
  session: 'quiver' | 'ort-default';
}

/** One implementation on one model, kept alive and driven over stdin/stdout (one JSON per line). */
async function worker(impl: string, model: string, session: string, setsPath: string): Promise<void> {
  const sets = JSON.parse(readFileSync(setsPath, 'utf8')) as Record<string, BenchSet>;
  const dir = join(fixtures, model);
  let embed: (set: BenchSet, n?: number) => Promise<unknown>;
  const t0 = performance.now();
  let note = '';
  if (impl === 'quiver') {
    const { createEmbedder } = await import('../src/embed/index.js');
    // Fixtures keep their graph in onnx/model.onnx, so every one loads as the "fp32" file; the
    // provider measures batch invariance at load and picks the batch size from it.
    const quiver = await createEmbedder('e5-small-v2', {
      modelDir: dir,
      spinWait: session === 'ort-default',
    });
    note = `batch ${(quiver as { batchSize?: number }).batchSize ?? '?'}`;
    embed = (set, n) => quiver.embed(set.raw.slice(0, n), { role: 'document' });
  } else {
    const { env, pipeline } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = fixtures + '/';
    const { sessionOptions } = await import('../src/embed/onnx/onnx-embedder.js');
    const extractor = await pipeline('feature-extraction', model, {
      dtype: 'fp32',
      ...(session === 'quiver' ? { session_options: sessionOptions() } : {}),
    });
    embed = (set, n) => extractor(set.formatted.slice(0, n), { pooling: 'mean', normalize: true });
  }
  const send = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  send({ ready: true, loadSeconds: (performance.now() - t0) / 1000, note });
  const warmed = new Set<string>();
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as { set?: string; exit?: boolean };
    if (cmd.exit) {
      send({ peakRssMb: process.resourceUsage().maxRSS / 1024 });
      break;
    }
    const set = sets[cmd.set!]!;
    if (!warmed.has(cmd.set!)) {
      await embed(set, 2);
      warmed.add(cmd.set!);
    }
    const s = performance.now();
    await embed(set);
    send({ seconds: (performance.now() - s) / 1000 });
  }
  process.exit(0);
}

/** The parent's handle on a worker process: send a command, await its one-line JSON answer. */
class WorkerProcess {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly early: string[] = [];
  stderr = '';

  constructor(c: Contender, setsPath: string) {
    this.proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', c.impl, c.model, c.session, setsPath],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const next = this.pending.shift();
      if (next) next(line);
      else this.early.push(line);
    });
    this.proc.on('exit', (code) => {
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: `exited ${code}: ${this.stderr}` }));
    });
  }

  async next<T>(): Promise<T> {
    const line = this.early.shift() ?? (await new Promise<string>((r) => this.pending.push(r)));
    const o = JSON.parse(line) as T & { error?: string };
    if (o.error) throw new Error(o.error);
    return o;
  }

  async ask<T>(cmd: object): Promise<T> {
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.next<T>();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** fp32 GFLOP/s this machine gives right now through onnxruntime: a chain of [256×384]·[384×1536] MatMuls. */
async function matmulProbe(): Promise<() => Promise<number>> {
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
  return async () => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      await session.run({ x });
      best = Math.min(best, (performance.now() - s) / 1000);
    }
    return flops / best / 1e9;
  };
}

async function main(): Promise<void> {
  if (args[0] === '--worker') return worker(args[1]!, args[2]!, args[3]!, args[4]!);
  ensureModel('e5-small-shape', false);
  ensureModel('e5-small-shape-q8', true);
  ensurePerTokenModel('e5-small-shape-q8', 'e5-small-shape-q8-pt');
  const sets = await makeSets();
  const setsPath = join(fixtures, 'bench-embed-sets.json');
  writeFileSync(setsPath, JSON.stringify(sets));
  const probe = await matmulProbe();

  const fp32 = 'e5-small-shape';
  const q8 = 'e5-small-shape-q8';
  const groups: Contender[][] = [
    [
      { label: 'quiver', variant: 'fp32', impl: 'quiver', model: fp32, session: 'quiver' },
      {
        label: 'quiver, ORT-default session',
        variant: 'fp32',
        impl: 'quiver',
        model: fp32,
        session: 'ort-default',
      },
      { label: 'pipeline', variant: 'fp32', impl: 'pipeline', model: fp32, session: 'ort-default' },
      {
        label: 'pipeline, Quiver session',
        variant: 'fp32',
        impl: 'pipeline',
        model: fp32,
        session: 'quiver',
      },
    ],
    [
      {
        label: 'quiver, per-token file',
        variant: 'int8',
        impl: 'quiver',
        model: `${q8}-pt`,
        session: 'quiver',
      },
      { label: 'quiver, stock file', variant: 'int8', impl: 'quiver', model: q8, session: 'quiver' },
      { label: 'pipeline', variant: 'int8', impl: 'pipeline', model: q8, session: 'ort-default' },
      { label: 'pipeline, Quiver session', variant: 'int8', impl: 'pipeline', model: q8, session: 'quiver' },
    ],
  ];
  /** seconds[label|variant][set][rep], gflops[variant][set][rep] */
  const seconds = new Map<string, Record<string, number[]>>();
  const gflops = new Map<string, Record<string, number[]>>();
  const info = new Map<string, { loadSeconds: number; note: string; peakRssMb: number }>();
  for (const group of groups) {
    const variant = group[0]!.variant;
    console.error(`running ${variant}: ${group.map((c) => c.label).join(', ')}…`);
    const workers = group.map((c) => new WorkerProcess(c, setsPath));
    const ready = await Promise.all(workers.map((w) => w.next<{ loadSeconds: number; note: string }>()));
    const g: Record<string, number[]> = {};
    gflops.set(variant, g);
    for (const set of Object.keys(sets)) {
      for (let rep = 0; rep < REPS; rep++) {
        (g[set] ??= []).push(await probe());
        // Alternate the order so a drift in machine load does not always favour one side.
        const order = group.map((_, i) => i);
        if (rep % 2 === 1) order.reverse();
        for (const i of order) {
          const { seconds: t } = await workers[i]!.ask<{ seconds: number }>({ set });
          const key = `${group[i]!.label}|${variant}`;
          if (!seconds.has(key)) seconds.set(key, {});
          (seconds.get(key)![set] ??= []).push(t);
        }
      }
    }
    for (const [i, w] of workers.entries()) {
      const { peakRssMb } = await w.ask<{ peakRssMb: number }>({ exit: true });
      info.set(`${group[i]!.label}|${variant}`, { ...ready[i]!, peakRssMb });
    }
  }

  console.log(
    `\nEmbedding throughput, e5-small-v2 shape (random weights), ${REPS} paired reps per set (medians), node ${process.version}`,
  );
  const allRates = [...gflops.values()].flatMap((g) => Object.values(g).flat());
  console.log(
    `machine: ${median(allRates).toFixed(1)} GFLOP/s fp32 through onnxruntime MatMul (median of the per-rep probes; range ${Math.min(...allRates).toFixed(0)}–${Math.max(...allRates).toFixed(0)})`,
  );
  console.log(
    `FLOP per token: ${(FLOP_PER_TOKEN / 1e6).toFixed(1)} M (projections + FFN) + ${(ATTENTION_FLOP_PER_TOKEN_PER_POSITION / 1e3).toFixed(1)} k × sequence length (attention scores and mixing)\n`,
  );
  const header = [
    'variant',
    'set',
    'texts',
    'tokens',
    'implementation',
    'tok/s',
    'ms/text',
    'vs pipeline',
    '% of FLOP limit',
  ];
  const rows: string[][] = [];
  for (const group of groups) {
    const variant = group[0]!.variant;
    const pipe = seconds.get(`pipeline|${variant}`)!;
    for (const [set, s] of Object.entries(sets)) {
      for (const c of group) {
        const t = seconds.get(`${c.label}|${variant}`)![set]!;
        const paired = t.map((x, r) => pipe[set]![r]! / x);
        const limit = t.map((x, r) => (100 * s.flops) / x / (gflops.get(variant)![set]![r]! * 1e9));
        rows.push([
          variant,
          set,
          String(s.raw.length),
          String(s.tokens),
          c.label,
          (s.tokens / median(t)).toFixed(0),
          ((median(t) * 1000) / s.raw.length).toFixed(1),
          c.label === 'pipeline' ? '1' : `${median(paired).toFixed(2)}×`,
          variant === 'fp32' ? `${median(limit).toFixed(0)}%` : '-',
        ]);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('\npeak RSS (MB), load time (s) per process:');
  for (const [key, r] of info)
    console.log(
      `  ${key.replace('|', ' ').padEnd(36)} ${r.peakRssMb.toFixed(0)} MB, load ${r.loadSeconds.toFixed(2)} s${r.note ? `, ${r.note}` : ''}`,
    );
}

await main();
