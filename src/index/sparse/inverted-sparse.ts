/**
 * In-memory learned-sparse inverted index: each term has a postings list of (ordinal, weight) in
 * growable typed arrays, scored by dot product with the shared term-at-a-time / MaxScore / top-k
 * machinery of ../inverted (the clause weight is the query's term weight, the per-posting impact
 * the document's, the clause bound their product with the term's largest document weight).
 *
 * Layout follows BM25 (../lexical/bm25.ts): passages get dense ordinals; a forward index (term ids
 * + weights per ordinal) makes deletes exact and lets snapshots store only the forward index;
 * deleted ordinals stay in the postings (never returned) until a fifth of the index is dead, then
 * postings are rewritten. Weights are stored as float32 (as SPLADE outputs them).
 */
import { readSnapshot, writeSnapshot } from '../inverted/snapshot.js';
import type { SnapshotHeader } from '../inverted/snapshot.js';
import type { LexicalSearchOptions, ScoredKey } from '../lexical/lexical-index.js';
import type { Clause } from '../inverted/term-at-a-time.js';
import { PostingList, ScoringScratch, allowsOf, scoreTopK } from '../inverted/term-at-a-time.js';
import type { SparseIndex, SparseItem, SparseVector } from './sparse-index.js';

class SparsePostings extends PostingList {
  weights = new Float32Array(4);
  /** Live (non-deleted) passages with the term. */
  live = 0;
  /** Largest weight ever pushed (still an upper bound after deletes): the term's score bound. */
  maxWeight = 0;

  protected override grow(cap: number): void {
    super.grow(cap);
    const w = new Float32Array(cap);
    w.set(this.weights);
    this.weights = w;
  }

  push(ord: number, weight: number): void {
    this.reserveOne();
    this.docs[this.length] = ord;
    this.weights[this.length] = weight;
    this.length++;
    this.live++;
    const stored = this.weights[this.length - 1]!;
    if (stored > this.maxWeight) this.maxWeight = stored;
  }
}

export interface InvertedSparseOptions {
  /** MaxScore pruning (default on). Off = exhaustive scoring, same results; for tests and benchmarks. */
  pruning?: boolean;
  /**
   * What produced the vectors (e.g. "user" or the encoder's model id): recorded in snapshots, and a
   * snapshot written for another fingerprint is refused on load.
   */
  fingerprint?: string;
}

const MAGIC = 'QVSPRS';
const FORMAT_VERSION = 1;

export class InvertedSparseIndex implements SparseIndex {
  private readonly pruning: boolean;
  private readonly fingerprint: string;
  private readonly vocab = new Map<string, number>();
  private readonly terms: string[] = [];
  private postings: SparsePostings[] = [];
  private fwdTerms: (Int32Array | undefined)[] = [];
  private fwdWeights: (Float32Array | undefined)[] = [];
  /** ordinal → passage key (NaN = deleted) */
  private keys = new Float64Array(16);
  private readonly ordOf = new Map<number, number>();
  private nextOrd = 0;
  private dead = 0;
  private readonly scratch = new ScoringScratch();

  constructor(opts: InvertedSparseOptions = {}) {
    this.pruning = opts.pruning ?? true;
    this.fingerprint = opts.fingerprint ?? '';
  }

  size(): number {
    return this.ordOf.size;
  }

  /** Passage keys in the index (for consistency checks). */
  keysIndexed(): number[] {
    return [...this.ordOf.keys()];
  }

  /** Distinct terms ever indexed (vocabulary size). */
  vocabularySize(): number {
    return this.terms.length;
  }

  private termId(t: string): number {
    let id = this.vocab.get(t);
    if (id === undefined) {
      id = this.terms.length;
      this.vocab.set(t, id);
      this.terms.push(t);
    }
    return id;
  }

  async upsert(items: SparseItem[]): Promise<void> {
    for (const { key, vector } of items) {
      if (this.ordOf.has(key)) this.removeKey(key);
      const ids: number[] = [];
      const ws: number[] = [];
      for (const [term, w] of Object.entries(vector)) {
        // Zero (and, defensively, non-positive or non-finite) weights carry nothing: not indexed.
        if (!(w > 0) || !Number.isFinite(w)) continue;
        ids.push(this.termId(term));
        ws.push(w);
      }
      if (ids.length === 0) continue;
      this.restore(key, Int32Array.from(ids), Float32Array.from(ws));
    }
    this.maybeCompact();
  }

  async remove(keys: number[]): Promise<void> {
    for (const k of keys) this.removeKey(k);
    this.maybeCompact();
  }

  private assignOrdinal(key: number): number {
    const ord = this.nextOrd++;
    if (ord >= this.keys.length) {
      const k = new Float64Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
    }
    this.keys[ord] = key;
    this.ordOf.set(key, ord);
    return ord;
  }

  /** Index one passage from its forward-index entry (upsert, compaction, snapshot load). */
  private restore(key: number, termIds: Int32Array, weights: Float32Array): void {
    const ord = this.assignOrdinal(key);
    for (let i = 0; i < termIds.length; i++) {
      const id = termIds[i]!;
      let p = this.postings[id];
      if (!p) this.postings[id] = p = new SparsePostings();
      p.push(ord, weights[i]!);
    }
    this.fwdTerms[ord] = termIds;
    this.fwdWeights[ord] = weights;
  }

  private removeKey(key: number): void {
    const ord = this.ordOf.get(key);
    if (ord === undefined) return;
    this.ordOf.delete(key);
    this.keys[ord] = NaN;
    this.dead++;
    const terms = this.fwdTerms[ord];
    if (terms) for (let i = 0; i < terms.length; i++) this.postings[terms[i]!]!.live--;
    this.fwdTerms[ord] = undefined;
    this.fwdWeights[ord] = undefined;
  }

  /** Rewrite postings without deleted ordinals once they are a fifth of the index. */
  private maybeCompact(): void {
    if (this.dead < 1000 || this.dead < this.nextOrd * 0.2) return;
    const saved: { key: number; terms: Int32Array; weights: Float32Array }[] = [];
    for (let o = 0; o < this.nextOrd; o++) {
      if (Number.isNaN(this.keys[o]!)) continue;
      saved.push({ key: this.keys[o]!, terms: this.fwdTerms[o]!, weights: this.fwdWeights[o]! });
    }
    // Bounds carry over: clause order follows them, and float32 sums follow clause order, so a
    // compacted (or reloaded) index scores bit-identically to the one it replaces.
    const bounds = this.postings.map((p) => p?.maxWeight ?? 0);
    this.postings = [];
    this.fwdTerms = [];
    this.fwdWeights = [];
    this.keys = new Float64Array(16);
    this.ordOf.clear();
    this.nextOrd = 0;
    this.dead = 0;
    for (const s of saved) this.restore(s.key, s.terms, s.weights);
    this.raiseBounds(bounds);
  }

  /** Per term id: the score bound is at least the given weight (restoring bounds after a rebuild). */
  private raiseBounds(bounds: ArrayLike<number>): void {
    for (let id = 0; id < bounds.length; id++) {
      const p = this.postings[id];
      if (p && bounds[id]! > p.maxWeight) p.maxWeight = bounds[id]!;
    }
  }

  /** One clause per query term with a positive weight that some live passage has. */
  private clauses(query: SparseVector): Clause[] {
    const out: Clause[] = [];
    for (const [term, w] of Object.entries(query)) {
      if (!(w > 0) || !Number.isFinite(w)) continue;
      const id = this.vocab.get(term);
      if (id === undefined) continue;
      const p = this.postings[id];
      if (!p || p.live === 0) continue;
      out.push({ label: term, postings: p, weight: w, impacts: p.weights, bound: w * p.maxWeight });
    }
    return out;
  }

  async search(query: SparseVector, k: number, opts: LexicalSearchOptions = {}): Promise<ScoredKey[]> {
    if (k <= 0 || this.ordOf.size === 0) return [];
    const clauses = this.clauses(query);
    if (clauses.length === 0) return [];
    return scoreTopK({
      clauses,
      k,
      scratch: this.scratch,
      keys: this.keys,
      ordinals: this.nextOrd,
      allows: allowsOf(opts, 'the sparse index'),
      pruning: this.pruning,
      explain: opts.explain === true,
    });
  }

  // ─── snapshots ────────────────────────────────────────────────────────────────────────────

  /**
   * Write a snapshot atomically (tmp + fsync + rename). Layout: MAGIC, u32 header length, JSON
   * header (version, watermark, fingerprint, payload sha256), payload: the vocabulary (JSON, since
   * user-supplied terms may hold any character), each term's score bound, then per live passage its
   * key, term count, term ids and weights. Postings are rebuilt on load.
   */
  async save(path: string, opts: { watermark: number }): Promise<void> {
    const live: number[] = [];
    for (let o = 0; o < this.nextOrd; o++) if (!Number.isNaN(this.keys[o]!)) live.push(o);
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const vocabBuf = Buffer.from(JSON.stringify(this.terms), 'utf8');
    const bounds = Float32Array.from(this.terms, (_, id) => this.postings[id]?.maxWeight ?? 0);
    const keysBuf = Buffer.alloc(live.length * 8);
    const lens = Buffer.alloc(live.length * 4);
    let total = 0;
    live.forEach((o, i) => {
      keysBuf.writeDoubleLE(this.keys[o]!, i * 8);
      const n = this.fwdTerms[o]?.length ?? 0;
      lens.writeUInt32LE(n, i * 4);
      total += n;
    });
    const terms = new Int32Array(total);
    const weights = new Float32Array(total);
    let at = 0;
    for (const o of live) {
      const t = this.fwdTerms[o];
      const w = this.fwdWeights[o];
      if (t && w) {
        terms.set(t, at);
        weights.set(w, at);
        at += t.length;
      }
    }
    const payload = Buffer.concat([
      u32(vocabBuf.length),
      vocabBuf,
      Buffer.from(bounds.buffer),
      u32(live.length),
      keysBuf,
      lens,
      Buffer.from(terms.buffer),
      Buffer.from(weights.buffer),
    ]);
    await writeSnapshot(
      path,
      MAGIC,
      {
        version: FORMAT_VERSION,
        watermark: opts.watermark,
        fingerprint: this.fingerprint,
        docs: live.length,
      },
      payload,
    );
  }

  /** Load a snapshot; any sign of a torn, foreign or mismatched file is INDEX_CORRUPT. */
  static async load(
    path: string,
    opts: InvertedSparseOptions = {},
  ): Promise<{ index: InvertedSparseIndex; watermark: number }> {
    const { header, payload, corrupt } = await readSnapshot<
      SnapshotHeader & { docs: number; fingerprint: string }
    >(path, MAGIC, FORMAT_VERSION, 'sparse');
    if (header.fingerprint !== (opts.fingerprint ?? ''))
      throw corrupt(`built from ${header.fingerprint || 'another source'}`);

    const index = new InvertedSparseIndex(opts);
    let at = 0;
    const readU32 = () => {
      const v = payload.readUInt32LE(at);
      at += 4;
      return v;
    };
    const vlen = readU32();
    let vocab: unknown;
    try {
      vocab = JSON.parse(payload.subarray(at, at + vlen).toString('utf8'));
    } catch {
      throw corrupt('unreadable vocabulary');
    }
    if (!Array.isArray(vocab)) throw corrupt('unreadable vocabulary');
    at += vlen;
    for (const t of vocab) index.termId(String(t));
    const boundBytes = new Uint8Array(vocab.length * 4);
    boundBytes.set(payload.subarray(at, at + boundBytes.length));
    const bounds = new Float32Array(boundBytes.buffer);
    at += boundBytes.length;
    const n = readU32();
    if (n !== header.docs) throw corrupt('passage count disagrees with the header');
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = payload.readDoubleLE(at + i * 8);
    at += n * 8;
    const lens = new Uint32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      lens[i] = payload.readUInt32LE(at + i * 4);
      total += lens[i]!;
    }
    at += n * 4;
    const copyBytes = (bytes: number) => {
      const b = new Uint8Array(bytes);
      b.set(payload.subarray(at, at + bytes));
      at += bytes;
      return b.buffer;
    };
    const termIds = new Int32Array(copyBytes(total * 4));
    const weights = new Float32Array(copyBytes(total * 4));
    if (at !== payload.length) throw corrupt('payload size disagrees with its contents');
    let off = 0;
    for (let i = 0; i < n; i++) {
      const len = lens[i]!;
      index.restore(keys[i]!, termIds.slice(off, off + len), weights.slice(off, off + len));
      off += len;
    }
    index.raiseBounds(bounds);
    return { index, watermark: header.watermark };
  }
}
