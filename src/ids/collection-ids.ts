/**
 * Semantic IDs attached to a collection: balanced residual-quantization codes (./semantic-ids) of
 * every document's vector in one vector field, kept durably in the collection's store.
 *
 *   semantic-ids:<field>        the quantizer: codebooks (base64 float32), levels, codes, how it was fit
 *   semantic-ids-codes:<field>  every document's code (base64 keys + codes) and the vector watermark
 *                               (the field's seq) it reflects
 *
 * Fitting is explicit (`quiver ids fit --collection`, POST …/ids/fit). Afterwards the codes are derived
 * state like any index: on each read the store's change log since the watermark is replayed, and new or
 * changed documents are coded with the stored codebooks (nearest codeword per level) — no retraining,
 * so existing IDs never move. A document's vector is the mean of its passages' vectors (re-normalised
 * for cosine fields), so chunked documents get one ID.
 */
import { QuiverError } from '../errors.js';
import type { CollectionStore } from '../store/store.js';
import type { JsonValue } from '../types.js';
import { docKeyOf } from '../types.js';
import type { ResidualQuantizer } from './semantic-ids.js';
import { assignIds, collisionRate, fitSemanticIds, utilisation } from './semantic-ids.js';

/** What the index needs from its collection: the field's vectors, their watermark, the doc table. */
export interface SemanticIdHost {
  readonly collection: string;
  readonly field: string;
  readonly metric: 'cos' | 'ip' | 'l2';
  /** Fingerprint of the embedder the field's vectors come from (a re-fit embedder changes it). */
  fingerprint(): string;
  /** Store seq through which every document has its vectors. */
  vectorSeq(): number;
  readonly store: Pick<
    CollectionStore,
    'getMeta' | 'setMeta' | 'scanVectors' | 'getVectors' | 'changesSince' | 'getByKeys'
  >;
  idOf(docKey: number): string | undefined;
  passageKeys(docKey: number): number[];
}

export interface SemanticIdFitOptions {
  levels?: number;
  codes?: number;
  /** Balanced (capacity-constrained) assignment; false = plain k-means. Default true. */
  balanced?: boolean;
  iterations?: number;
  /** Train each level on at most this many documents, then code every document once. */
  trainSample?: number;
  seed?: number;
}

export interface SemanticIdReport {
  collection: string;
  field: string;
  documents: number;
  levels: number;
  codes: number;
  balanced: boolean;
  utilisation: number[];
  collision_rate: number;
}

export interface SemanticIdStatus extends Partial<SemanticIdReport> {
  fitted: boolean;
  field: string;
  fittedAt?: string;
  /** Documents the codebooks were trained on; later documents were coded without retraining. */
  fittedDocuments?: number;
}

export interface CodeSample {
  id: string;
  title?: string;
}

export interface CodeTreeChild {
  code: number[];
  count: number;
  samples: CodeSample[];
}

export interface CodeTree {
  field: string;
  levels: number;
  codes: number;
  prefix: number[];
  /** Documents under the prefix. */
  total: number;
  /** One entry per code used under the prefix (empty at full depth). */
  children: CodeTreeChild[];
  /** At full depth: the documents that carry exactly this code. */
  documents?: (CodeSample & { code: number[] })[];
}

interface QuantizerMeta {
  version: 1;
  field: string;
  fingerprint: string;
  dims: number;
  levels: number;
  codes: number;
  balanced: boolean;
  fittedAt: string;
  fittedDocuments: number;
  codebooks: string[];
}

interface CodesMeta {
  seq: number;
  /** Document keys, float64 (keys can exceed 2³²), base64. */
  keys: string;
  /** levels × uint16 per document, base64. */
  codes: string;
}

const quantizerKey = (field: string) => `semantic-ids:${field}`;
const codesKey = (field: string) => `semantic-ids-codes:${field}`;

const toB64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function fromB64<T>(s: string, make: (buf: ArrayBuffer) => T): T {
  const b = Buffer.from(s, 'base64');
  // Copy into a fresh, aligned buffer (Buffer's pool offset need not be aligned for typed arrays).
  return make(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/** "12.200" → [12, 200]; "" or undefined → [] (the root). */
export function parseCodePrefix(raw: string | undefined): number[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split('.').map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p.trim()) || !Number.isSafeInteger(n)) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `a code prefix is dot-separated integers like 12.200 (got "${raw}")`,
        { location: { field: 'prefix' } },
      );
    }
    return n;
  });
}

export const MAX_LEVELS = 8;
export const MAX_CODES = 65536;

export class SemanticIdIndex {
  private quantizer: ResidualQuantizer | undefined;
  private meta: QuantizerMeta | undefined;
  private readonly codes = new Map<number, Uint16Array>();
  private seq = 0;
  private loaded = false;
  /** Fits and catch-ups run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: SemanticIdHost) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Train codebooks on the field's current document vectors and code every document. */
  async fit(opts: SemanticIdFitOptions = {}): Promise<SemanticIdReport> {
    const levels = opts.levels ?? 3;
    const codes = opts.codes ?? 256;
    if (!Number.isInteger(levels) || levels < 1 || levels > MAX_LEVELS) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `levels must be an integer in [1, ${MAX_LEVELS}] (got ${levels})`,
        { location: { field: 'levels' } },
      );
    }
    if (!Number.isInteger(codes) || codes < 2 || codes > MAX_CODES) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `codes must be an integer in [2, ${MAX_CODES}] (got ${codes})`,
        { location: { field: 'codes' } },
      );
    }
    return this.serial(async () => {
      const seq = this.host.vectorSeq();
      const docs = await this.documentVectors();
      if (docs.keys.length === 0) {
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `vector field "${this.host.field}" of "${this.host.collection}" has no vectors to fit semantic IDs on`,
          {
            location: { field: 'field' },
            details: { hint: 'add documents (and let them be embedded) before fitting' },
          },
        );
      }
      const fit = fitSemanticIds(docs.vectors, {
        levels,
        codes,
        balanced: opts.balanced ?? true,
        ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
        ...(opts.trainSample !== undefined ? { trainSample: opts.trainSample } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
      this.quantizer = fit.quantizer;
      this.meta = {
        version: 1,
        field: this.host.field,
        fingerprint: this.host.fingerprint(),
        dims: fit.quantizer.dims,
        levels,
        codes,
        balanced: opts.balanced ?? true,
        fittedAt: new Date().toISOString(),
        fittedDocuments: docs.keys.length,
        codebooks: fit.quantizer.codebooks.map(toB64),
      };
      this.codes.clear();
      docs.keys.forEach((k, i) => this.codes.set(k, fit.codes[i]!));
      this.seq = seq;
      this.loaded = true;
      await this.host.store.setMeta(quantizerKey(this.host.field), this.meta as unknown as JsonValue);
      await this.persistCodes();
      return this.report();
    });
  }

  /** Whether IDs are fitted, with their utilisation and collisions over the current documents. */
  async status(): Promise<SemanticIdStatus> {
    const fitted = await this.current(false);
    if (!fitted) return { fitted: false, field: this.host.field };
    return {
      fitted: true,
      ...this.report(),
      fittedAt: this.meta!.fittedAt,
      fittedDocuments: this.meta!.fittedDocuments,
    };
  }

  /**
   * The code tree under `prefix`: each code used at the next level with its document count and a
   * few sample documents; at full depth, the documents carrying that exact code.
   */
  async tree(prefix: number[], opts: { samples?: number; limit?: number } = {}): Promise<CodeTree> {
    await this.requireFitted();
    const { levels, codes } = this.meta!;
    if (prefix.length > levels) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `the prefix has ${prefix.length} levels; the IDs have ${levels}`,
        { location: { field: 'prefix' } },
      );
    }
    prefix.forEach((c) => {
      if (!Number.isInteger(c) || c < 0 || c >= codes) {
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `prefix codes must be integers in [0, ${codes - 1}] (got ${c})`,
          { location: { field: 'prefix' } },
        );
      }
    });
    const samples = opts.samples ?? 3;
    const limit = opts.limit ?? 100;
    const depth = prefix.length;
    const under = (code: Uint16Array) => prefix.every((c, i) => code[i] === c);
    const groups = new Map<number, { count: number; keys: number[] }>();
    const leafKeys: number[] = [];
    let total = 0;
    // Key order, so samples are stable between calls.
    for (const key of [...this.codes.keys()].sort((a, b) => a - b)) {
      const code = this.codes.get(key)!;
      if (!under(code)) continue;
      total++;
      if (depth === levels) {
        if (leafKeys.length < limit) leafKeys.push(key);
        continue;
      }
      let g = groups.get(code[depth]!);
      if (!g) groups.set(code[depth]!, (g = { count: 0, keys: [] }));
      g.count++;
      if (g.keys.length < samples) g.keys.push(key);
    }
    const wanted = depth === levels ? leafKeys : [...groups.values()].flatMap((g) => g.keys);
    const titles = await this.samplesOf(wanted);
    const out: CodeTree = { field: this.host.field, levels, codes, prefix, total, children: [] };
    if (depth === levels) {
      out.documents = leafKeys.flatMap((k) => {
        const s = titles.get(k);
        return s ? [{ ...s, code: [...prefix] }] : [];
      });
      return out;
    }
    out.children = [...groups.entries()]
      .sort((a, b) => b[1].count - a[1].count || a[0] - b[0])
      .map(([c, g]) => ({
        code: [...prefix, c],
        count: g.count,
        samples: g.keys.flatMap((k) => titles.get(k) ?? []),
      }));
    return out;
  }

  /** Every document's ID, in key order (for export). */
  async entries(): Promise<{ id: string; code: number[] }[]> {
    await this.requireFitted();
    const out: { id: string; code: number[] }[] = [];
    for (const key of [...this.codes.keys()].sort((a, b) => a - b)) {
      const id = this.host.idOf(key);
      if (id !== undefined) out.push({ id, code: Array.from(this.codes.get(key)!) });
    }
    return out;
  }

  /** The ID of one document, or undefined when it has none (no vector yet, or not fitted). */
  async codeOf(docKey: number): Promise<number[] | undefined> {
    if (!(await this.current(false))) return undefined;
    const c = this.codes.get(docKey);
    return c ? Array.from(c) : undefined;
  }

  private report(): SemanticIdReport {
    const m = this.meta!;
    const all = [...this.codes.values()];
    return {
      collection: this.host.collection,
      field: this.host.field,
      documents: all.length,
      levels: m.levels,
      codes: m.codes,
      balanced: m.balanced,
      utilisation: utilisation(all, m.levels, m.codes),
      collision_rate: collisionRate(all),
    };
  }

  private async requireFitted(): Promise<void> {
    if (!(await this.current(true))) {
      const c = this.host.collection;
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `collection "${c}" has no semantic IDs for vector field "${this.host.field}"; fit them first: ` +
          `quiver ids fit --collection ${c} (or POST /v1/collections/${c}/ids/fit)`,
        { location: { field: 'ids' } },
      );
    }
  }

  /** Load the stored state once, then bring the codes up to the field's vector watermark. */
  private current(strict: boolean): Promise<boolean> {
    return this.serial(async () => {
      if (!this.loaded) {
        const m = (await this.host.store.getMeta(quantizerKey(this.host.field))) as unknown as
          QuantizerMeta | undefined;
        const c = (await this.host.store.getMeta(codesKey(this.host.field))) as unknown as
          CodesMeta | undefined;
        if (!m || !c) return false;
        this.meta = m;
        this.quantizer = {
          dims: m.dims,
          levels: m.levels,
          codes: m.codes,
          codebooks: m.codebooks.map((b) => fromB64(b, (buf) => new Float32Array(buf))),
        };
        const keys = fromB64(c.keys, (buf) => new Float64Array(buf));
        const codes = fromB64(c.codes, (buf) => new Uint16Array(buf));
        this.codes.clear();
        keys.forEach((k, i) => this.codes.set(k, codes.slice(i * m.levels, (i + 1) * m.levels)));
        this.seq = c.seq;
        this.loaded = true;
      }
      if (this.meta!.fingerprint !== this.host.fingerprint()) {
        // The vectors now come from another embedder state: the codebooks describe another space.
        if (!strict) return true;
        throw new QuiverError(
          'EMBEDDER_MISMATCH',
          `the semantic IDs of "${this.host.collection}" were fitted on vectors the field no longer has (its embedder changed); ` +
            `re-fit them: quiver ids fit --collection ${this.host.collection}`,
          { location: { field: 'ids' } },
        );
      }
      await this.catchUp();
      return true;
    });
  }

  /** Code documents changed since the watermark with the stored codebooks; forget deleted ones. */
  private async catchUp(): Promise<void> {
    const target = this.host.vectorSeq();
    if (target === this.seq) return;
    const changed: number[] = [];
    for await (const ch of this.host.store.changesSince(this.seq)) {
      if (ch.op === 'delete') this.codes.delete(ch.key);
      else changed.push(ch.key);
    }
    for (let i = 0; i < changed.length; i += 512) {
      const batch = changed.slice(i, i + 512);
      const vecs = await this.vectorsOf(batch);
      const present = batch.filter((k) => vecs.has(k));
      // A document without vectors (not embedded yet, or an image field without an image) has no ID;
      // its change is replayed again on a later read once the watermark passes it.
      for (const k of batch) if (!vecs.has(k)) this.codes.delete(k);
      const ids = assignIds(
        this.quantizer!,
        present.map((k) => vecs.get(k)!),
      );
      present.forEach((k, j) => this.codes.set(k, ids[j]!));
    }
    this.seq = target;
    // The watermark moved: store it with the codes, so the next process starts from here.
    await this.persistCodes();
  }

  private async persistCodes(): Promise<void> {
    const levels = this.meta!.levels;
    const keys = [...this.codes.keys()].sort((a, b) => a - b);
    const flat = new Uint16Array(keys.length * levels);
    keys.forEach((k, i) => flat.set(this.codes.get(k)!, i * levels));
    const value: CodesMeta = { seq: this.seq, keys: toB64(Float64Array.from(keys)), codes: toB64(flat) };
    await this.host.store.setMeta(codesKey(this.host.field), value as unknown as JsonValue);
  }

  private docVector(sum: Float32Array, n: number): Float32Array {
    if (n > 1) for (let j = 0; j < sum.length; j++) sum[j]! /= n;
    if (n > 1 && this.host.metric === 'cos') {
      const norm = Math.hypot(...sum) || 1;
      for (let j = 0; j < sum.length; j++) sum[j]! /= norm;
    }
    return sum;
  }

  /** Every document's vector (mean of its passages), streamed from the vectors of record. */
  private async documentVectors(): Promise<{ keys: number[]; vectors: Float32Array[] }> {
    const sums = new Map<number, { sum: Float32Array; n: number }>();
    for await (const v of this.host.store.scanVectors(this.host.field)) {
      const dk = docKeyOf(v.key);
      if (this.host.idOf(dk) === undefined) continue;
      const s = sums.get(dk);
      if (!s) sums.set(dk, { sum: Float32Array.from(v.vector), n: 1 });
      else {
        for (let j = 0; j < s.sum.length; j++) s.sum[j]! += v.vector[j]!;
        s.n++;
      }
    }
    const keys = [...sums.keys()].sort((a, b) => a - b);
    return { keys, vectors: keys.map((k) => this.docVector(sums.get(k)!.sum, sums.get(k)!.n)) };
  }

  private async vectorsOf(docKeys: number[]): Promise<Map<number, Float32Array>> {
    const passageKeys = docKeys.flatMap((k) => this.host.passageKeys(k));
    const sums = new Map<number, { sum: Float32Array; n: number }>();
    for (const v of await this.host.store.getVectors(this.host.field, passageKeys)) {
      const dk = docKeyOf(v.key);
      const s = sums.get(dk);
      if (!s) sums.set(dk, { sum: Float32Array.from(v.vector), n: 1 });
      else {
        for (let j = 0; j < s.sum.length; j++) s.sum[j]! += v.vector[j]!;
        s.n++;
      }
    }
    const out = new Map<number, Float32Array>();
    for (const [k, s] of sums) {
      if (s.sum.length !== this.quantizer!.dims) {
        throw new QuiverError(
          'DIMENSION_MISMATCH',
          `vector field "${this.host.field}" has ${s.sum.length} dims; the semantic IDs were fitted on ${this.quantizer!.dims}`,
          {
            location: { field: 'ids' },
          },
        );
      }
      out.set(k, this.docVector(s.sum, s.n));
    }
    return out;
  }

  private async samplesOf(keys: number[]): Promise<Map<number, CodeSample>> {
    const out = new Map<number, CodeSample>();
    if (keys.length === 0) return out;
    for (const d of await this.host.store.getByKeys(keys)) {
      const title = d.title?.trim() || d.text.replace(/\s+/g, ' ').trim().slice(0, 100);
      out.set(d.key, { id: d.id, ...(title ? { title } : {}) });
    }
    return out;
  }
}
