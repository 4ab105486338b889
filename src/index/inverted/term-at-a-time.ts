/**
 * The inverted-index machinery shared by BM25 (../lexical/bm25.ts) and learned-sparse dot-product
 * scoring (../sparse/sparse-index.ts). Both score a query as a sum of clauses, one per query term:
 *
 *   score(doc) = Σ_clauses  weight · impact(doc)
 *
 * where each clause has a postings list of document ordinals (sorted ascending) with one impact per
 * posting (BM25: tf / (tf + k1·norm); sparse: the document's term weight) and a query-side weight
 * (BM25: idf · qtf · field weight; sparse: the query's term weight). Impacts and weights are
 * positive, so an accumulator entry of 0 means "not touched yet".
 *
 * Scoring is term-at-a-time into a reused Float32Array accumulator, clauses with the highest upper
 * bound first. Once the clauses left could not lift an unseen document above the current k-th best
 * allowed score θ (MaxScore), the remaining clauses only update surviving candidates, found by
 * galloping through their postings, and candidates that can no longer reach θ are dropped. A
 * bounded min-heap then selects the top k among allowed ordinals. The result equals exhaustive
 * scoring: pruned documents are strictly below θ.
 */
import { QuiverError } from '../../errors.js';
import type { LexicalSearchOptions, ScoredKey } from '../lexical/lexical-index.js';

/** Growable sorted postings: ordinals in `docs[0..length)`; subclasses add parallel arrays. */
export class PostingList {
  docs = new Int32Array(4);
  length = 0;

  /** Make room for one more posting (doubling); subclasses grow their parallel arrays too. */
  protected grow(cap: number): void {
    const d = new Int32Array(cap);
    d.set(this.docs);
    this.docs = d;
  }

  protected reserveOne(): void {
    if (this.length === this.docs.length) this.grow(this.docs.length * 2);
  }
}

/** First index ≥ from in sorted docs[0..length) whose value is ≥ target (galloping, then binary). */
export function gallop(docs: Int32Array, length: number, from: number, target: number): number {
  if (from >= length || docs[from]! >= target) return from;
  let lo = from;
  let step = 1;
  let hi = from + 1;
  while (hi < length && docs[hi]! < target) {
    lo = hi;
    step <<= 1;
    hi = lo + step;
  }
  if (hi > length) hi = length;
  // Invariant: docs[lo] < target, and docs[hi] ≥ target or hi = length.
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (docs[mid]! < target) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Relative margin under the k-th best score below which MaxScore prunes: generous against float32
 * rounding of long sums, so pruning never changes the result.
 */
const PRUNE_SLACK = 1e-4;

/** One scoring clause: a query term (in one field), with everything its inner loop needs. */
export interface Clause {
  /** Name shown by explain (the term, or "field:term"). */
  label: string;
  postings: { docs: Int32Array; length: number };
  /** Query-side multiplier. */
  weight: number;
  /** Per posting: the document-side factor; the clause adds weight · impacts[i]. */
  impacts: Float32Array;
  /** No document can get more than this from the clause. */
  bound: number;
}

/**
 * Per-index scratch reused across queries (a search never awaits while using it): the score
 * accumulator, the touched ordinals, and the filter verdict per ordinal (0 unknown, 1 allowed,
 * 2 refused). Entries touched by a query are reset before it returns.
 */
export class ScoringScratch {
  acc = new Float32Array(0);
  touched = new Int32Array(0);
  verdict = new Uint8Array(0);

  ensure(ordinals: number): void {
    if (this.acc.length >= ordinals) return;
    const cap = Math.max(ordinals, this.acc.length * 2);
    this.acc = new Float32Array(cap);
    this.touched = new Int32Array(cap);
    this.verdict = new Uint8Array(cap);
  }
}

/** The filter as a key predicate: the engine binds `allows`; a bare key list also works. */
export function allowsOf(opts: LexicalSearchOptions, what: string): ((key: number) => boolean) | undefined {
  const f = opts.filter;
  if (!f) return undefined;
  if (f.allows) return f.allows;
  if (f.allowedKeys) {
    const set = new Set(f.allowedKeys);
    return (key) => set.has(key);
  }
  throw new QuiverError(
    'INTERNAL',
    `${what} needs a filter bound to the document table (allows or allowedKeys)`,
  );
}

export interface TopKInput {
  clauses: Clause[];
  k: number;
  scratch: ScoringScratch;
  /** ordinal → passage key (NaN = deleted) */
  keys: Float64Array;
  /** Ordinals in use: [0, ordinals). */
  ordinals: number;
  allows: ((key: number) => boolean) | undefined;
  pruning: boolean;
  explain: boolean;
}

/** Top-k passages for the clauses (sorted by score descending, ties by key ascending). */
export function scoreTopK(input: TopKInput): ScoredKey[] {
  const { k, scratch, keys, allows, pruning } = input;
  const clauses = [...input.clauses].sort((a, b) => b.bound - a.bound);
  if (clauses.length === 0 || k <= 0) return [];
  scratch.ensure(input.ordinals);
  const { acc, touched, verdict } = scratch;
  // remaining[i] = most that clauses i.. can add to any document.
  const remaining = new Float64Array(clauses.length + 1);
  for (let i = clauses.length - 1; i >= 0; i--) remaining[i] = remaining[i + 1]! + clauses[i]!.bound;

  const isCandidate = (ord: number): boolean => {
    if (Number.isNaN(keys[ord]!)) return false;
    if (!allows) return true;
    let v = verdict[ord]!;
    if (v === 0) verdict[ord] = v = allows(keys[ord]!) ? 1 : 2;
    return v === 1;
  };

  let nTouched = 0;
  let ci = 0;
  let candidates: Int32Array | undefined;
  let nCand = 0;
  try {
    for (; ci < clauses.length; ci++) {
      const c = clauses[ci]!;
      // Worth checking whether pruning applies when this clause's postings outnumber the
      // documents seen so far (finding θ costs one pass over them).
      if (pruning && nTouched >= k && c.postings.length > nTouched) {
        const theta = kthScore(acc, touched, nTouched, k, isCandidate);
        const floor = theta * (1 - PRUNE_SLACK);
        if (theta > 0 && remaining[ci]! < floor) {
          candidates = new Int32Array(nTouched);
          for (let i = 0; i < nTouched; i++) {
            const ord = touched[i]!;
            if (acc[ord]! + remaining[ci]! >= floor && isCandidate(ord)) candidates[nCand++] = ord;
          }
          candidates.subarray(0, nCand).sort();
          nCand = scoreCandidates(acc, clauses, ci, candidates.subarray(0, nCand), remaining, floor);
          break;
        }
      }
      const { weight, impacts } = c;
      const { docs, length } = c.postings;
      for (let i = 0; i < length; i++) {
        const ord = docs[i]!;
        if (acc[ord] === 0) touched[nTouched++] = ord;
        acc[ord]! += weight * impacts[i]!;
      }
    }
    const pool = candidates ? candidates.subarray(0, nCand) : touched.subarray(0, nTouched);
    return topK(acc, keys, pool, k, isCandidate, input.explain ? clauses : undefined);
  } finally {
    for (let i = 0; i < nTouched; i++) {
      const ord = touched[i]!;
      acc[ord] = 0;
      verdict[ord] = 0;
    }
  }
}

/**
 * MaxScore's second phase: the remaining clauses only add to the candidates (sorted ordinals);
 * candidates that can no longer reach `floor` are dropped. Returns how many survive, compacted
 * to the front of `cands`.
 */
function scoreCandidates(
  acc: Float32Array,
  clauses: Clause[],
  from: number,
  cands: Int32Array,
  remaining: Float64Array,
  floor: number,
): number {
  let n = cands.length;
  for (let ci = from; ci < clauses.length && n > 0; ci++) {
    const { weight, impacts } = clauses[ci]!;
    const { docs, length } = clauses[ci]!.postings;
    let pos = 0;
    for (let j = 0; j < n && pos < length; j++) {
      const ord = cands[j]!;
      pos = gallop(docs, length, pos, ord);
      if (pos < length && docs[pos] === ord) acc[ord]! += weight * impacts[pos]!;
    }
    const rest = remaining[ci + 1]!;
    let kept = 0;
    for (let j = 0; j < n; j++) {
      const ord = cands[j]!;
      if (acc[ord]! + rest >= floor) cands[kept++] = ord;
    }
    n = kept;
  }
  return n;
}

/** The k-th best score among the given ordinals that may be returned (0 when fewer than k). */
function kthScore(
  acc: Float32Array,
  ords: Int32Array,
  n: number,
  k: number,
  isCandidate: (ord: number) => boolean,
): number {
  const heap = new Float32Array(k);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const ord = ords[i]!;
    const s = acc[ord]!;
    if (size === k && s <= heap[0]!) continue;
    if (!isCandidate(ord)) continue;
    if (size < k) {
      let j = size++;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (heap[parent]! <= s) break;
        heap[j] = heap[parent]!;
        j = parent;
      }
      heap[j] = s;
    } else {
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        if (l >= k) break;
        const m = l + 1 < k && heap[l + 1]! < heap[l]! ? l + 1 : l;
        if (heap[m]! >= s) break;
        heap[j] = heap[m]!;
        j = m;
      }
      heap[j] = s;
    }
  }
  return size === k ? heap[0]! : 0;
}

/** Bounded min-heap selection over the pool; ties go to the smaller key (deterministic). */
function topK(
  acc: Float32Array,
  keys: Float64Array,
  pool: Int32Array,
  k: number,
  isCandidate: (ord: number) => boolean,
  explainClauses?: Clause[],
): ScoredKey[] {
  const heapS = new Float64Array(k);
  const heapO = new Int32Array(k);
  let size = 0;
  const worse = (sa: number, oa: number, sb: number, ob: number) =>
    sa < sb || (sa === sb && keys[oa]! > keys[ob]!);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heapS[l]!, heapO[l]!, heapS[m]!, heapO[m]!)) m = l;
      if (r < size && worse(heapS[r]!, heapO[r]!, heapS[m]!, heapO[m]!)) m = r;
      if (m === i) return;
      [heapS[i], heapS[m]] = [heapS[m]!, heapS[i]!];
      [heapO[i], heapO[m]] = [heapO[m]!, heapO[i]!];
      i = m;
    }
  };
  for (let p = 0; p < pool.length; p++) {
    const ord = pool[p]!;
    const s = acc[ord]!;
    if (size === k && !worse(heapS[0]!, heapO[0]!, s, ord)) continue;
    if (!isCandidate(ord)) continue;
    if (size < k) {
      let i = size++;
      heapS[i] = s;
      heapO[i] = ord;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(heapS[i]!, heapO[i]!, heapS[parent]!, heapO[parent]!)) break;
        [heapS[i], heapS[parent]] = [heapS[parent]!, heapS[i]!];
        [heapO[i], heapO[parent]] = [heapO[parent]!, heapO[i]!];
        i = parent;
      }
    } else {
      heapS[0] = s;
      heapO[0] = ord;
      siftDown(0);
    }
  }
  const out: ScoredKey[] = [];
  for (let i = 0; i < size; i++) {
    const hit: ScoredKey = { key: keys[heapO[i]!]!, score: heapS[i]! };
    if (explainClauses) hit.terms = explainOrd(heapO[i]!, explainClauses);
    out.push(hit);
  }
  return out.sort((a, b) => b.score - a.score || a.key - b.key);
}

/** Per-clause contributions for one document, recomputed from the postings (explain only). */
function explainOrd(ord: number, clauses: Clause[]): Record<string, number> {
  const terms: Record<string, number> = {};
  for (const c of clauses) {
    const { docs, length } = c.postings;
    const pos = gallop(docs, length, 0, ord);
    if (pos < length && docs[pos] === ord)
      terms[c.label] = (terms[c.label] ?? 0) + c.weight * c.impacts[pos]!;
  }
  return terms;
}
