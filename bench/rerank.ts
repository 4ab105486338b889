/**
 * Reranker throughput in query–passage pairs per second: Quiver's ONNX cross-encoder vs
 * @huggingface/transformers (AutoTokenizer pair encoding + AutoModelForSequenceClassification) on
 * the same model file and the same pairs, at several batch sizes and pair lengths; and the
 * offline similarity reranker (no model) on the same pairs.
 *
 *   npm run bench:rerank     (npx tsx bench/rerank.ts [--reps 3] [--tokens 4096] [--batches 1,8,32]
 *                             [--lengths 64,192,448] [--layers 12])
 *
 * The model is a cross-encoder of e5-small / MiniLM-L12 shape (12 layers, hidden 384, 12 heads, FFN
 * 1536, classification head on [CLS]) with random weights, built by scripts/make_cross_encoder_onnx.py
 * --layers 12 into .cache/fixtures/cross-encoder-e5-small-shape/ with the real e5-small-v2 tokenizer:
 * the compute per pair is a real cross-encoder's. Scores are meaningless; both implementations must
 * agree on them (checked: max |Δ logit| is printed).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { createAnalyzer } from '../src/analyze/index.js';
import { CrossEncoderReranker } from '../src/rerank/cross-encoder.js';
import { SimilarityReranker } from '../src/rerank/similarity.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const shared = join(root, '..', 'shared');
const fixtures = join(root, '.cache', 'fixtures');
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const REPS = Number(arg('reps', '3'));
const TOKENS = Number(arg('tokens', '4096'));
const BATCHES = arg('batches', '1,8,32').split(',').map(Number);
const LENGTHS = arg('lengths', '64,192,448').split(',').map(Number);
const LAYERS = Number(arg('layers', '12'));
const NAME = LAYERS === 12 ? 'cross-encoder-e5-small-shape' : `cross-encoder-${LAYERS}-layers`;

function ensureModel(): string {
  const dir = join(fixtures, NAME);
  if (existsSync(join(dir, 'onnx', 'model.onnx'))) return dir;
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
    copyFileSync(join(shared, 'models', 'e5-small-v2', f), join(dir, f));
  }
  // transformers.js picks the model class from config.json: a BERT sequence classifier, one logit.
  const config = JSON.parse(
    readFileSync(join(shared, 'models', 'e5-small-v2', 'config.json'), 'utf8'),
  ) as Record<string, unknown>;
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        ...config,
        num_hidden_layers: LAYERS,
        architectures: ['BertForSequenceClassification'],
        id2label: { 0: 'LABEL_0' },
        label2id: { LABEL_0: 0 },
      },
      null,
      2,
    ),
  );
  console.error(`building ${NAME} (random weights)…`);
  execFileSync(
    '/usr/bin/python3',
    [join(root, 'scripts', 'make_cross_encoder_onnx.py'), dir, '--layers', String(LAYERS)],
    { stdio: 'inherit' },
  );
  return dir;
}

interface PairSet {
  /** Tokens per pair, or "mixed" (32..448, the spread of real candidate lists). */
  length: number | 'mixed';
  query: string;
  passages: string[];
  /** Tokens of every pair as the model sees it ([CLS] q [SEP] p [SEP]). */
  tokens: number;
}

/** One real SciFact query and passages of single-token SciFact words, so each pair is `length` tokens. */
function makeSets(tok: Tokenizer): PairSet[] {
  const query = (
    JSON.parse(
      readFileSync(join(shared, 'datasets', 'scifact', 'queries.jsonl'), 'utf8').split('\n')[0]!,
    ) as { text: string }
  ).text;
  const qTokens = tok.encode(query).ids.length; // [CLS] q [SEP]
  const words = readFileSync(join(shared, 'datasets', 'scifact', 'corpus.jsonl'), 'utf8')
    .split('\n')
    .slice(0, 300)
    .filter(Boolean)
    .flatMap((l) => (JSON.parse(l) as { text: string }).text.split(/\s+/))
    .filter((w) => w && tok.encode(w, { add_special_tokens: false }).ids.length === 1);
  let cursor = 0;
  const passage = (length: number) => {
    const n = Math.max(1, length - qTokens - 1); // passage words + its [SEP]
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(words[cursor++ % words.length]!);
    return { text: out.join(' '), tokens: qTokens + n + 1 };
  };
  const minPairs = BATCHES.reduce((a, b) => Math.max(a, b), 1);
  const sets: PairSet[] = LENGTHS.map((length) => {
    const count = Math.max(minPairs, Math.round(TOKENS / length));
    const ps = Array.from({ length: count }, () => passage(length));
    return { length, query, passages: ps.map((p) => p.text), tokens: ps.reduce((a, p) => a + p.tokens, 0) };
  });
  // Mixed lengths, log-uniform 32..448 (deterministic), as many pairs as the longest fixed set.
  const mixed = Array.from({ length: Math.max(minPairs, Math.round(TOKENS / 160)) }, (_, i) =>
    passage(Math.round(32 * 14 ** ((i * 0.618034) % 1))),
  );
  sets.push({
    length: 'mixed',
    query,
    passages: mixed.map((p) => p.text),
    tokens: mixed.reduce((a, p) => a + p.tokens, 0),
  });
  return sets;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median wall time; the caller has already run `fn` once (the score check), which warms it up. */
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const s = performance.now();
    await fn();
    t.push((performance.now() - s) / 1000);
  }
  return median(t);
}

async function main(): Promise<void> {
  const dir = ensureModel();
  const tok = new Tokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as ConstructorParameters<
      typeof Tokenizer
    >[0],
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as ConstructorParameters<
      typeof Tokenizer
    >[1],
  );
  const sets = makeSets(tok);

  const { env, AutoTokenizer, AutoModelForSequenceClassification } =
    await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = fixtures + '/';
  const hfTok = await AutoTokenizer.from_pretrained(NAME);
  const hfModel = await AutoModelForSequenceClassification.from_pretrained(NAME, { dtype: 'fp32' });
  const hfScores = async (set: PairSet, batch: number): Promise<number[]> => {
    const out: number[] = [];
    for (let s = 0; s < set.passages.length; s += batch) {
      const ps = set.passages.slice(s, s + batch);
      const inputs = hfTok(
        ps.map(() => set.query),
        { text_pair: ps, padding: true, truncation: true, max_length: 512 },
      );
      const { logits } = (await hfModel(inputs)) as { logits: { data: Float32Array } };
      out.push(...Array.from(logits.data));
    }
    return out;
  };

  const rows: string[][] = [];
  let maxDiff = 0;
  for (const batch of BATCHES) {
    const quiver = await CrossEncoderReranker.load(dir, { batchSize: batch, maxLength: 512 });
    for (const set of sets) {
      const candidates = set.passages.map((text, key) => ({ key, text }));
      const q = await quiver.rerank(set.query, candidates);
      const h = await hfScores(set, batch);
      q.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - h[i]!))));
      const tq = await time(() => quiver.rerank(set.query, candidates));
      const th = await time(() => hfScores(set, batch));
      const n = set.passages.length;
      rows.push([
        String(batch),
        String(set.length),
        String(n),
        (n / tq).toFixed(1),
        (n / th).toFixed(1),
        `${(th / tq).toFixed(2)}×`,
        ((tq / n) * 1000).toFixed(1),
        Math.round(set.tokens / tq).toLocaleString('en-US'),
      ]);
      console.error(
        `batch ${batch}, ${set.length} tokens: quiver ${(n / tq).toFixed(1)} pairs/s, transformers.js ${(n / th).toFixed(1)}`,
      );
    }
    await quiver.close();
  }

  // The offline similarity reranker: analyzer + idf over the same pairs (idf 1: no corpus here).
  const similarity = new SimilarityReranker(createAnalyzer({ language: 'en' }), () => 1);
  const simRows: string[][] = [];
  for (const set of sets) {
    const candidates = set.passages.map((text, key) => ({ key, text }));
    await similarity.rerank(set.query, candidates);
    const t = await time(() => similarity.rerank(set.query, candidates));
    simRows.push([
      String(set.length),
      String(candidates.length),
      Math.round(candidates.length / t).toLocaleString('en-US'),
      ((t / candidates.length) * 1000).toFixed(3),
    ]);
  }

  console.log(
    `\nCross-encoder ${NAME} (${LAYERS} layers, hidden 384, random weights); one query, its candidates in batches; median of ${REPS} reps.`,
  );
  console.log(`Quiver and transformers.js scores agree to max |Δ logit| = ${maxDiff.toExponential(2)}.\n`);
  console.log(
    '| batch | pair tokens | pairs | Quiver pairs/s | transformers.js pairs/s | Quiver ÷ transformers.js | Quiver ms/pair | Quiver tokens/s |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    '\nOffline similarity reranker (BM25 over the best two-sentence window + query-term coverage), same pairs:\n',
  );
  console.log('| pair tokens | pairs | pairs/s | ms/pair |');
  console.log('|---|---|---|---|');
  for (const r of simRows) console.log(`| ${r.join(' | ')} |`);
}

await main();
process.exit(0);
