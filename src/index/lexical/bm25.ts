/**
 * In-memory BM25 inverted index, scored as Lucene's BM25Similarity scores it (so Pyserini's
 * numbers reproduce):
 *   idf(t)  = ln(1 + (N − df + 0.5) / (df + 0.5))
 *   score   = Σ_t  qtf · idf · tf / (tf + k1 · (1 − b + b · dl / avgdl))
 * where dl is the document length after a lossy one-byte round trip (SmallFloat.intToByte4, as
 * Lucene stores norms) and avgdl is exact (sumTotalTermFreq / docCount). Repeated query terms
 * count once per occurrence (Anserini boosts a term by its query frequency).
 *
 * Layout: documents get dense ordinals; each term has a postings list of (ordinal, tf) in growable
 * typed arrays; a forward index (term ids + tfs per ordinal) makes deletes exact (df and lengths
 * are decremented) and lets snapshots store only the forward index. Scoring (term-at-a-time,
 * MaxScore, bounded top-k heap) is the shared inverted-index machinery of ../inverted, which
 * learned-sparse fields use too.
 */
import type { Analyzer } from '../../analyze/analyzer.js';
import { ANALYZER_PROBE } from '../../analyze/index.js';
import { readSnapshot, writeSnapshot } from '../inverted/snapshot.js';
import type { SnapshotHeader } from '../inverted/snapshot.js';
import type { Passage } from '../../types.js';
import type { Clause } from '../inverted/term-at-a-time.js';
import { PostingList, ScoringScratch, allowsOf, scoreTopK } from '../inverted/term-at-a-time.js';
import type { LexicalIndex, LexicalSearchOptions, ScoredKey } from './lexical-index.js';

// ─── Lucene SmallFloat (norm encoding) ──────────────────────────────────────────────────────

function numberOfLeadingZeros32(x: number): number {
  return Math.clz32(x);
}

/** Float-like encoding of a non-negative int keeping 4 significant bits (Lucene longToInt4). */
export function longToInt4(i: number): number {
  const numBits = i === 0 ? 0 : 32 - numberOfLeadingZeros32(i);
  if (numBits < 4) return i;
  const shift = numBits - 4;
  let encoded = i >>> shift;
  encoded &= 0x07;
  encoded |= (shift + 1) << 3;
  return encoded;
}

export function int4ToLong(i: number): number {
  const bits = i & 0x07;
  const shift = (i >>> 3) - 1;
  return shift === -1 ? bits : (bits | 0x08) * 2 ** shift;
}

const MAX_INT4 = longToInt4(0x7fffffff);
const NUM_FREE_VALUES = 255 - MAX_INT4;

export function intToByte4(i: number): number {
  if (i < NUM_FREE_VALUES) return i;
  return NUM_FREE_VALUES + longToInt4(i - NUM_FREE_VALUES);
}

export function byte4ToInt(b: number): number {
  if (b < NUM_FREE_VALUES) return b;
  return Math.min(NUM_FREE_VALUES + int4ToLong(b - NUM_FREE_VALUES), 0x7fffffff);
}

/** Decoded length per norm byte, as Lucene's BM25Similarity.LENGTH_TABLE. */
const LENGTH_TABLE = Float64Array.from({ length: 256 }, (_, i) => byte4ToInt(i));

// ─── postings ───────────────────────────────────────────────────────────────────────────────

class Postings extends PostingList {
  tfs = new Int32Array(4);
  /** Live (non-deleted) documents containing the term: Lucene's docFreq after merges. */
  df = 0;
  /** Largest tf ever pushed (an upper bound after deletes too): gives the term's score bound. */
  maxTf = 0;
  /**
   * tf / (tf + k1·(1 − b + b·dl/avgdl)) per posting, valid while the field's `generation` equals
   * `impactsGeneration` (any add or delete changes avgdl, so impacts are recomputed lazily).
   */
  impacts: Float32Array | undefined;
  impactsGeneration = -1;

  protected override grow(cap: number): void {
    super.grow(cap);
    const t = new Int32Array(cap);
    t.set(this.tfs);
    this.tfs = t;
  }

  push(ord: number, tf: number): void {
    this.reserveOne();
    this.docs[this.length] = ord;
    this.tfs[this.length] = tf;
    this.length++;
    this.df++;
    if (tf > this.maxTf) this.maxTf = tf;
  }
}

export interface Bm25Options {
  analyzer: Analyzer;
  k1: number;
  b: number;
  /** Multi-field weights; absent = title + " " + text as one field (Pyserini "flat"). */
  fields?: { title: number; text: number };
  /** MaxScore pruning (default on). Off = exhaustive scoring, same results; for tests and benchmarks. */
  pruning?: boolean;
}

type FieldName = 'all' | 'title' | 'text';

/** Per-field inverted index; a multi-field index holds one per field over the same ordinals. */
class FieldIndex {
  readonly postings: Postings[] = [];
  /** Forward index: per ordinal, the term ids and their tfs in this field. */
  readonly fwdTerms: (Int32Array | undefined)[] = [];
  readonly fwdTfs: (Int32Array | undefined)[] = [];
  norms = new Uint8Array(16);
  sumTotalTermFreq = 0;
  /** Bumped on every change of the field's statistics: invalidates cached impacts. */
  generation = 0;
  docCount = 0;

  ensure(ord: number): void {
    if (ord >= this.norms.length) {
      const n = new Uint8Array(Math.max(ord + 1, this.norms.length * 2));
      n.set(this.norms);
      this.norms = n;
    }
  }
}

const MAGIC = 'QVBM25';
const FORMAT_VERSION = 1;

export class Bm25Index implements LexicalIndex {
  private readonly analyzer: Analyzer;
  private readonly k1: number;
  private readonly b: number;
  private readonly weights: { title: number; text: number } | undefined;
  private readonly pruning: boolean;
  private readonly vocab = new Map<string, number>();
  private readonly terms: string[] = [];
  private readonly fields: Map<FieldName, FieldIndex>;
  /** ordinal → passage key (NaN = deleted) */
  private keys = new Float64Array(16);
  private readonly ordOf = new Map<number, number>();
  private nextOrd = 0;
  private dead = 0;
  /** Per-query scoring scratch (accumulator, touched list, filter verdicts), reused across queries. */
  private readonly scratch = new ScoringScratch();

  constructor(opts: Bm25Options) {
    this.analyzer = opts.analyzer;
    this.k1 = opts.k1;
    this.b = opts.b;
    this.weights = opts.fields;
    this.pruning = opts.pruning ?? true;
    this.fields = new Map(
      (opts.fields ? (['title', 'text'] as FieldName[]) : (['all'] as FieldName[])).map((f) => [
        f,
        new FieldIndex(),
      ]),
    );
  }

  size(): number {
    return this.ordOf.size;
  }

  /** Passage keys in the index (for consistency checks). */
  keysIndexed(): number[] {
    return [...this.ordOf.keys()];
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

  private fieldTexts(p: Passage): [FieldName, string][] {
    if (!this.weights) return [['all', p.title ? `${p.title} ${p.text}` : p.text]];
    return [
      ['title', p.title ?? ''],
      ['text', p.text],
    ];
  }

  async add(passages: Passage[]): Promise<void> {
    for (const p of passages) {
      const fieldTerms = this.fieldTexts(p).map(([f, text]) => [f, this.analyzer.analyze(text)] as const);
      this.addAnalyzed(p.key, fieldTerms);
    }
    this.maybeCompact();
  }

  /** The next dense ordinal for a passage key (the ordinal → key table grows by doubling). */
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

  private addAnalyzed(key: number, fieldTerms: readonly (readonly [FieldName, string[]])[]): void {
    if (this.ordOf.has(key)) this.removeKey(key);
    const ord = this.assignOrdinal(key);
    for (const [fname, tokens] of fieldTerms) {
      const counts = new Map<number, number>();
      for (const t of tokens) {
        const id = this.termId(t);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      this.addToField(this.fields.get(fname)!, ord, counts, tokens.length);
    }
  }

  private addToField(fi: FieldIndex, ord: number, counts: Map<number, number>, length: number): void {
    const termIds = new Int32Array(counts.size);
    const tfs = new Int32Array(counts.size);
    let i = 0;
    for (const [id, tf] of counts) {
      termIds[i] = id;
      tfs[i] = tf;
      i++;
      let p = fi.postings[id];
      if (!p) fi.postings[id] = p = new Postings();
      p.push(ord, tf);
    }
    fi.fwdTerms[ord] = termIds;
    fi.fwdTfs[ord] = tfs;
    fi.ensure(ord);
    fi.norms[ord] = intToByte4(length);
    fi.sumTotalTermFreq += length;
    fi.docCount++;
    fi.generation++;
  }

  async remove(keys: number[]): Promise<void> {
    for (const k of keys) this.removeKey(k);
    this.maybeCompact();
  }

  private removeKey(key: number): void {
    const ord = this.ordOf.get(key);
    if (ord === undefined) return;
    this.ordOf.delete(key);
    this.keys[ord] = NaN;
    this.dead++;
    for (const fi of this.fields.values()) {
      const terms = fi.fwdTerms[ord];
      const tfs = fi.fwdTfs[ord];
      if (!terms || !tfs) continue;
      let length = 0;
      for (let i = 0; i < terms.length; i++) {
        fi.postings[terms[i]!]!.df--;
        length += tfs[i]!;
      }
      fi.sumTotalTermFreq -= length;
      fi.docCount--;
      fi.generation++;
      fi.fwdTerms[ord] = undefined;
      fi.fwdTfs[ord] = undefined;
    }
  }

  /** Rewrite postings without deleted ordinals once they are a fifth of the index. */
  private maybeCompact(): void {
    if (this.dead < 1000 || this.dead < this.nextOrd * 0.2) return;
    const live: number[] = [];
    for (let o = 0; o < this.nextOrd; o++) if (!Number.isNaN(this.keys[o]!)) live.push(o);
    const saved = live.map((o) => ({
      key: this.keys[o]!,
      fields: [...this.fields.entries()].map(([name, fi]) => ({
        name,
        terms: fi.fwdTerms[o]!,
        tfs: fi.fwdTfs[o]!,
        norm: fi.norms[o]!,
      })),
    }));
    this.resetPostings();
    for (const s of saved) this.restoreDoc(s.key, s.fields);
  }

  private resetPostings(): void {
    for (const [name] of this.fields) this.fields.set(name, new FieldIndex());
    this.keys = new Float64Array(16);
    this.ordOf.clear();
    this.nextOrd = 0;
    this.dead = 0;
  }

  /** Re-add a document from its forward-index entry (compaction, snapshot load). */
  private restoreDoc(
    key: number,
    fields: { name: FieldName; terms: Int32Array; tfs: Int32Array; norm: number }[],
  ): void {
    const ord = this.assignOrdinal(key);
    for (const f of fields) {
      const fi = this.fields.get(f.name)!;
      let length = 0;
      for (let i = 0; i < f.terms.length; i++) {
        const id = f.terms[i]!;
        let p = fi.postings[id];
        if (!p) fi.postings[id] = p = new Postings();
        p.push(ord, f.tfs[i]!);
        length += f.tfs[i]!;
      }
      fi.fwdTerms[ord] = f.terms;
      fi.fwdTfs[ord] = f.tfs;
      fi.ensure(ord);
      fi.norms[ord] = f.norm;
      fi.sumTotalTermFreq += length;
      fi.docCount++;
      fi.generation++;
    }
  }

  /** Lucene idf of an analyzed term over the whole collection (0 for unseen terms' df = 0 → high). */
  idf(term: string): number {
    const fi = this.fields.values().next().value as FieldIndex;
    const id = this.vocab.get(term);
    const df = id === undefined ? 0 : (fi.postings[id]?.df ?? 0);
    const n = fi.docCount;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /** The query's clauses: one per distinct term and field, repeated terms weighing per occurrence. */
  private clauses(tokens: string[]): Clause[] {
    const qtf = new Map<string, number>();
    for (const t of tokens) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const out: Clause[] = [];
    for (const [fname, fi] of this.fields) {
      const fieldWeight = this.weights ? this.weights[fname as 'title' | 'text'] : 1;
      if (fieldWeight === 0 || fi.docCount === 0) continue;
      const N = fi.docCount;
      const avgdl = fi.sumTotalTermFreq / N;
      let lengthCache: Float32Array | undefined;
      for (const [term, count] of qtf) {
        const id = this.vocab.get(term);
        if (id === undefined) continue;
        const p = fi.postings[id];
        if (!p || p.df === 0) continue;
        if (!lengthCache) {
          lengthCache = new Float32Array(256);
          for (let i = 0; i < 256; i++)
            lengthCache[i] = this.k1 * (1 - this.b + (this.b * LENGTH_TABLE[i]!) / avgdl);
        }
        const idf = Math.log(1 + (N - p.df + 0.5) / (p.df + 0.5));
        const weight = idf * count * fieldWeight;
        // The length factor grows with dl, so norm byte 0 gives its smallest value.
        const bound = (weight * p.maxTf) / (p.maxTf + lengthCache[0]!);
        out.push({
          label: this.weights ? `${fname}:${term}` : term,
          postings: p,
          weight,
          impacts: this.impactsOf(p, fi, lengthCache),
          bound,
        });
      }
    }
    return out;
  }

  /** The postings' cached impacts, recomputed when the field changed since they were computed. */
  private impactsOf(p: Postings, fi: FieldIndex, lengthCache: Float32Array): Float32Array {
    if (p.impacts && p.impactsGeneration === fi.generation) return p.impacts;
    const impacts = p.impacts && p.impacts.length >= p.length ? p.impacts : new Float32Array(p.docs.length);
    const { docs, tfs, length } = p;
    const norms = fi.norms;
    for (let i = 0; i < length; i++) {
      const tf = tfs[i]!;
      impacts[i] = tf / (tf + lengthCache[norms[docs[i]!]!]!);
    }
    p.impacts = impacts;
    p.impactsGeneration = fi.generation;
    return impacts;
  }

  /**
   * Top-k by BM25: term-at-a-time with MaxScore pruning (../inverted/term-at-a-time.ts), rarest
   * (highest bound) clause first. The result equals exhaustive scoring.
   */
  async search(query: string, k: number, opts: LexicalSearchOptions = {}): Promise<ScoredKey[]> {
    const tokens = this.analyzer.analyze(query);
    if (tokens.length === 0 || k <= 0 || this.ordOf.size === 0) return [];
    const clauses = this.clauses(tokens);
    if (clauses.length === 0) return [];
    return scoreTopK({
      clauses,
      k,
      scratch: this.scratch,
      keys: this.keys,
      ordinals: this.nextOrd,
      allows: allowsOf(opts, 'embedded BM25'),
      pruning: this.pruning,
      explain: opts.explain === true,
    });
  }

  // ─── snapshots ────────────────────────────────────────────────────────────────────────────

  /**
   * Write a snapshot atomically (tmp + fsync + rename). Layout: MAGIC, u32 header length, JSON
   * header (version, watermark, parameters, payload sha256), payload. The payload is the forward
   * index only; postings are rebuilt on load.
   */
  async save(path: string, opts: { watermark: number }): Promise<void> {
    const live: number[] = [];
    for (let o = 0; o < this.nextOrd; o++) if (!Number.isNaN(this.keys[o]!)) live.push(o);
    const fieldNames = [...this.fields.keys()];
    const parts: Buffer[] = [];
    const vocabBuf = Buffer.from(this.terms.join('\n'), 'utf8');
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    parts.push(u32(vocabBuf.length), vocabBuf, u32(live.length));
    const keysBuf = Buffer.alloc(live.length * 8);
    live.forEach((o, i) => keysBuf.writeDoubleLE(this.keys[o]!, i * 8));
    parts.push(keysBuf);
    for (const fname of fieldNames) {
      const fi = this.fields.get(fname)!;
      const norms = Buffer.alloc(live.length);
      const lens = Buffer.alloc(live.length * 4);
      let total = 0;
      live.forEach((o, i) => {
        norms[i] = fi.norms[o]!;
        const n = fi.fwdTerms[o]?.length ?? 0;
        lens.writeUInt32LE(n, i * 4);
        total += n;
      });
      const terms = new Int32Array(total);
      const tfs = new Int32Array(total);
      let at = 0;
      for (const o of live) {
        const t = fi.fwdTerms[o];
        const f = fi.fwdTfs[o];
        if (t && f) {
          terms.set(t, at);
          tfs.set(f, at);
          at += t.length;
        }
      }
      parts.push(norms, lens, Buffer.from(terms.buffer), Buffer.from(tfs.buffer));
    }
    const payload = Buffer.concat(parts);
    await writeSnapshot(
      path,
      MAGIC,
      {
        version: FORMAT_VERSION,
        watermark: opts.watermark,
        k1: this.k1,
        b: this.b,
        fields: fieldNames,
        weights: this.weights ?? null,
        language: this.analyzer.language,
        analyzerProbe: this.analyzer.analyze(ANALYZER_PROBE),
        docs: live.length,
      },
      payload,
    );
  }

  /** Load a snapshot; any sign of a torn, foreign or mismatched file is INDEX_CORRUPT. */
  static async load(path: string, opts: Bm25Options): Promise<{ index: Bm25Index; watermark: number }> {
    const { header, payload, corrupt } = await readSnapshot<
      SnapshotHeader & {
        docs: number;
        k1: number;
        b: number;
        fields: FieldName[];
        weights: { title: number; text: number } | null;
        language: string;
        analyzerProbe?: string[];
      }
    >(path, MAGIC, FORMAT_VERSION, 'BM25');
    const expectedFields = opts.fields ? ['title', 'text'] : ['all'];
    if (
      header.k1 !== opts.k1 ||
      header.b !== opts.b ||
      header.language !== opts.analyzer.language ||
      JSON.stringify(header.analyzerProbe) !== JSON.stringify(opts.analyzer.analyze(ANALYZER_PROBE)) ||
      JSON.stringify(header.fields) !== JSON.stringify(expectedFields) ||
      JSON.stringify(header.weights) !== JSON.stringify(opts.fields ?? null)
    ) {
      throw corrupt('built with other parameters');
    }
    const index = new Bm25Index(opts);
    let at = 0;
    const readU32 = () => {
      const v = payload.readUInt32LE(at);
      at += 4;
      return v;
    };
    const vlen = readU32();
    const vocab = payload.subarray(at, at + vlen).toString('utf8');
    at += vlen;
    if (vlen > 0) for (const t of vocab.split('\n')) index.termId(t);
    const n = readU32();
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = payload.readDoubleLE(at + i * 8);
    at += n * 8;
    const perField: {
      name: FieldName;
      norms: Uint8Array;
      lens: Uint32Array;
      terms: Int32Array;
      tfs: Int32Array;
    }[] = [];
    for (const name of header.fields) {
      const norms = new Uint8Array(payload.subarray(at, at + n));
      at += n;
      const lens = new Uint32Array(n);
      let total = 0;
      for (let i = 0; i < n; i++) {
        lens[i] = payload.readUInt32LE(at + i * 4);
        total += lens[i]!;
      }
      at += n * 4;
      const copy = (bytes: number) => {
        const b = new Uint8Array(bytes);
        b.set(payload.subarray(at, at + bytes));
        at += bytes;
        return new Int32Array(b.buffer);
      };
      const terms = copy(total * 4);
      const tfs = copy(total * 4);
      perField.push({ name, norms, lens, terms, tfs });
    }
    const offsets = perField.map(() => 0);
    for (let i = 0; i < n; i++) {
      index.restoreDoc(
        keys[i]!,
        perField.map((f, fi) => {
          const len = f.lens[i]!;
          const start = offsets[fi]!;
          offsets[fi] = start + len;
          return {
            name: f.name,
            terms: f.terms.slice(start, start + len),
            tfs: f.tfs.slice(start, start + len),
            norm: f.norms[i]!,
          };
        }),
      );
    }
    return { index, watermark: header.watermark };
  }
}
