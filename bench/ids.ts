/**
 * Semantic-ID assignment time: fit (train the residual codebooks, then code every document) and
 * assign (code new documents with the stored codebooks, no retraining), balanced vs plain k-means,
 * with the ID-space utilisation and collision rate of each run, on clustered 384-d unit vectors
 * (e5-small's dimensionality).
 *
 *   npm run bench:ids            (npx tsx bench/ids.ts [--sizes 100000,1000000] [--levels 3] [--codes 256]
 *                                 [--sample 16384] [--iterations 8] [--new 10000] [--clusters 1000])
 *
 * Each level's centroids are trained on `--sample` random documents (the codebooks' cost stops
 * growing with the corpus); coding all n documents is the O(n · codes · dims) part that scales.
 */
import { clusteredVectors } from '../src/index/vector/vector-index.conformance.js';
import { assignIds, collisionRate, fitSemanticIds, utilisation } from '../src/ids/semantic-ids.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SIZES = arg('sizes', '100000').split(',').map(Number);
const LEVELS = Number(arg('levels', '3'));
const CODES = Number(arg('codes', '256'));
const SAMPLE = Number(arg('sample', '16384'));
const ITERATIONS = Number(arg('iterations', '8'));
const NEW_DOCS = Number(arg('new', '10000'));
const CLUSTERS = Number(arg('clusters', '1000'));
const DIMS = 384;
const ASSIGNMENTS = arg('assignments', 'balanced,plain').split(',');

function unitVectors(n: number, seed: number): Float32Array[] {
  const out: Float32Array[] = [];
  // Generated in slices so the generator's temporaries stay small.
  for (let start = 0; start < n; start += 50_000) {
    for (const v of clusteredVectors(Math.min(50_000, n - start), DIMS, CLUSTERS, seed + start)) {
      let s = 0;
      for (const x of v) s += x * x;
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < v.length; j++) v[j]! *= inv;
      out.push(v);
    }
  }
  return out;
}

interface Row {
  n: number;
  assignment: string;
  fitSeconds: number;
  assignPerSec: number;
  utilisation: number[];
  collisions: number;
  maxLevel1Load: number;
}

const rows: Row[] = [];
for (const n of SIZES) {
  const t0 = performance.now();
  const vecs = unitVectors(n, 11);
  const fresh = unitVectors(NEW_DOCS, 99_991);
  console.error(`${n} vectors generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const assignment of ASSIGNMENTS) {
    const balanced = assignment === 'balanced';
    const f0 = performance.now();
    const fit = fitSemanticIds(vecs, {
      levels: LEVELS,
      codes: CODES,
      balanced,
      iterations: ITERATIONS,
      trainSample: SAMPLE,
      seed: 7,
    });
    const fitSeconds = (performance.now() - f0) / 1000;
    const a0 = performance.now();
    assignIds(fit.quantizer, fresh);
    const assignSeconds = (performance.now() - a0) / 1000;
    const load = new Map<number, number>();
    for (const c of fit.codes) load.set(c[0]!, (load.get(c[0]!) ?? 0) + 1);
    const row: Row = {
      n,
      assignment,
      fitSeconds,
      assignPerSec: NEW_DOCS / assignSeconds,
      utilisation: utilisation(fit.codes, LEVELS, CODES),
      collisions: collisionRate(fit.codes),
      maxLevel1Load: Math.max(...load.values()),
    };
    rows.push(row);
    console.error(`${n} ${assignment}: fit ${fitSeconds.toFixed(1)} s`);
  }
}

const fmt = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
console.log(
  `\nSemantic IDs: ${LEVELS} levels × ${CODES} codes, ${DIMS}-d unit vectors in ${CLUSTERS} clusters; ` +
    `codebooks trained on ${SAMPLE} documents × ${ITERATIONS} iterations per level; ` +
    `assign = ${NEW_DOCS} new documents coded with the stored codebooks.\n`,
);
console.log(
  '| documents | assignment | fit + code all (s) | documents/s (fit) | assign new docs/s | utilisation per level | collision rate | largest level-1 code (capacity) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${fmt(r.n)} | ${r.assignment} | ${r.fitSeconds.toFixed(1)} | ${fmt(r.n / r.fitSeconds)} | ${fmt(r.assignPerSec)} | ${r.utilisation
      .map((u) => u.toFixed(3))
      .join(' / ')} | ${(r.collisions * 100).toFixed(2)}% | ${r.maxLevel1Load} (${Math.ceil(r.n / CODES)}) |`,
  );
}
