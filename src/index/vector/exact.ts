/**
 * Exact (brute-force) vector search over contiguous Float32 storage: the ground truth for recall,
 * the right choice for small collections, and what HNSW falls back to for selective filters.
 */
import usearchModule from 'usearch';
import { QuiverError } from '../../errors.js';
import type { VectorHit, VectorIndex, VectorMetric, VectorSearchOptions } from './vector-index.js';

export class TopK {
  private readonly scores: Float64Array;
  private readonly keys: Float64Array;
  size = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.keys = new Float64Array(k);
  }

  /** Lowest score kept so far (−∞ until full). */
  get floor(): number {
    return this.size < this.k ? -Infinity : this.scores[0]!;
  }

  private worse(i: number, j: number): boolean {
    return (
      this.scores[i]! < this.scores[j]! ||
      (this.scores[i] === this.scores[j] && this.keys[i]! > this.keys[j]!)
    );
  }

  private swap(i: number, j: number): void {
    const s = this.scores[i]!;
    this.scores[i] = this.scores[j]!;
    this.scores[j] = s;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(key: number, score: number): void {
    if (this.k === 0) return;
    if (this.size < this.k) {
      let i = this.size++;
      this.scores[i] = score;
      this.keys[i] = key;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(i, p)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    if (score < this.scores[0]! || (score === this.scores[0] && key > this.keys[0]!)) return;
    this.scores[0] = score;
    this.keys[0] = key;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.worse(l, m)) m = l;
      if (r < this.size && this.worse(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  sorted(): VectorHit[] {
    const out: VectorHit[] = [];
    for (let i = 0; i < this.size; i++) out.push({ key: this.keys[i]!, score: this.scores[i]! });
    return out.sort((a, b) => b.score - a.score || a.key - b.key);
  }
}

export function checkDims(v: Float32Array, dims: number, what = 'vector'): void {
  if (v.length !== dims) {
    throw new QuiverError('DIMENSION_MISMATCH', `${what} has ${v.length} dimensions, the index has ${dims}`, {
      location: { field: 'vector' },
    });
  }
}

/** Similarity for a metric; higher is better (l2: negative squared distance). */
export function similarity(
  metric: VectorMetric,
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  dims: number,
): number {
  if (metric === 'l2') {
    let s = 0;
    for (let i = 0; i < dims; i++) {
      const d = a[aOff + i]! - b[i]!;
      s += d * d;
    }
    return -s;
  }
  // Four accumulators: the additions no longer wait on each other (about 1.3× faster at 384-d).
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dims; i += 4) {
    const o = aOff + i;
    s0 += a[o]! * b[i]!;
    s1 += a[o + 1]! * b[i + 1]!;
    s2 += a[o + 2]! * b[i + 2]!;
    s3 += a[o + 3]! * b[i + 3]!;
  }
  for (; i < dims; i++) s0 += a[aOff + i]! * b[i]!;
  return s0 + s1 + (s2 + s3);
}

export function normalized(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  const out = new Float32Array(v.length);
  if (n > 0) for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

/** From this many vectors on, unfiltered exact search runs in usearch's native kernels. */
const NATIVE_EXACT_MIN = 512;

export class ExactVectorIndex implements VectorIndex {
  private data: Float32Array;
  private slotKeys: Float64Array;
  private readonly slotOf = new Map<number, number>();
  private count = 0;

  constructor(
    readonly dims: number,
    readonly metric: VectorMetric = 'cos',
  ) {
    this.data = new Float32Array(dims * 64);
    this.slotKeys = new Float64Array(64);
  }

  size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.slotOf.has(key);
  }

  /** The stored (for cos: normalised) vector of a key. */
  vector(key: number): Float32Array | undefined {
    const s = this.slotOf.get(key);
    return s === undefined ? undefined : this.data.subarray(s * this.dims, (s + 1) * this.dims);
  }

  async add(keys: number[], vectors: Float32Array[]): Promise<void> {
    this.addSync(keys, vectors);
  }

  addSync(keys: number[], vectors: Float32Array[]): void {
    if (keys.length !== vectors.length)
      throw new QuiverError('INVALID_ARGUMENT', 'keys and vectors differ in length');
    for (let i = 0; i < keys.length; i++) {
      const v = vectors[i]!;
      checkDims(v, this.dims);
      const stored = this.metric === 'cos' ? normalized(v) : v;
      let slot = this.slotOf.get(keys[i]!);
      if (slot === undefined) {
        slot = this.count++;
        if (slot >= this.slotKeys.length) {
          const d = new Float32Array(this.data.length * 2);
          d.set(this.data);
          this.data = d;
          const k = new Float64Array(this.slotKeys.length * 2);
          k.set(this.slotKeys);
          this.slotKeys = k;
        }
        this.slotKeys[slot] = keys[i]!;
        this.slotOf.set(keys[i]!, slot);
      }
      this.data.set(stored, slot * this.dims);
    }
  }

  async remove(keys: number[]): Promise<void> {
    this.removeSync(keys);
  }

  /** Swap-remove keeps storage contiguous. */
  removeSync(keys: number[]): void {
    for (const key of keys) {
      const slot = this.slotOf.get(key);
      if (slot === undefined) continue;
      const last = this.count - 1;
      if (slot !== last) {
        this.data.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
        const movedKey = this.slotKeys[last]!;
        this.slotKeys[slot] = movedKey;
        this.slotOf.set(movedKey, slot);
      }
      this.slotOf.delete(key);
      this.count--;
    }
  }

  async search(query: Float32Array, k: number, opts: VectorSearchOptions = {}): Promise<VectorHit[]> {
    return this.searchSync(query, k, opts);
  }

  searchSync(query: Float32Array, k: number, opts: VectorSearchOptions = {}): VectorHit[] {
    checkDims(query, this.dims, 'query');
    const q = this.metric === 'cos' ? normalized(query) : query;
    const top = new TopK(Math.max(0, Math.min(k, this.count)));
    const f = opts.filter;
    if (f?.allowedKeys) {
      for (const key of f.allowedKeys) {
        const slot = this.slotOf.get(key);
        if (slot !== undefined)
          top.push(key, similarity(this.metric, this.data, slot * this.dims, q, this.dims));
      }
      return top.sorted();
    }
    if (!f && this.count >= NATIVE_EXACT_MIN) return this.nativeSearch(q, top.k);
    const allows = f?.allows;
    for (let s = 0; s < this.count; s++) {
      const key = this.slotKeys[s]!;
      if (allows && !allows(key)) continue;
      top.push(key, similarity(this.metric, this.data, s * this.dims, q, this.dims));
    }
    return top.sorted();
  }

  /**
   * Unfiltered brute force in usearch's SIMD kernels: ≈ 5× faster than the JS loop (5k × 100-d:
   * 0.4 vs 2.2 ms per query), which is what hybrid search over a small collection pays per query.
   * Scores are the same similarities (float32 accumulation); ties are ordered by key like TopK.
   */
  private nativeSearch(q: Float32Array, k: number): VectorHit[] {
    if (k === 0) return [];
    // The binding reads from the start of the typed array's buffer (it ignores byteOffset).
    const query = q.byteOffset === 0 ? q : q.slice();
    const data = this.data.subarray(0, this.count * this.dims);
    const metric = this.metric === 'l2' ? usearchModule.MetricKind.L2sq : usearchModule.MetricKind.IP;
    const res = usearchModule.exactSearch(data, query, this.dims, k, metric, 1) as {
      keys: BigUint64Array;
      distances: Float32Array;
    };
    const out: VectorHit[] = [];
    for (let i = 0; i < res.keys.length; i++) {
      const slot = Number(res.keys[i]!);
      if (slot >= this.count) continue;
      const d = res.distances[i]!;
      out.push({ key: this.slotKeys[slot]!, score: this.metric === 'l2' ? -d : 1 - d });
    }
    return out.sort((a, b) => b.score - a.score || a.key - b.key);
  }

  /** Score given keys exactly (rescoring quantized candidates). */
  scoreKeys(query: Float32Array, keys: Iterable<number>): VectorHit[] {
    const q = this.metric === 'cos' ? normalized(query) : query;
    const out: VectorHit[] = [];
    for (const key of keys) {
      const slot = this.slotOf.get(key);
      if (slot !== undefined)
        out.push({ key, score: similarity(this.metric, this.data, slot * this.dims, q, this.dims) });
    }
    return out;
  }

  keys(): number[] {
    return Array.from(this.slotKeys.subarray(0, this.count));
  }

  /**
   * The storage as it is (slot order; cos vectors already normalised), for persistence. Views,
   * not copies: valid until the next add or remove.
   */
  snapshot(): { keys: Float64Array; data: Float32Array } {
    return {
      keys: this.slotKeys.subarray(0, this.count),
      data: this.data.subarray(0, this.count * this.dims),
    };
  }

  /** Replace the contents with a snapshot (taking ownership of the arrays). */
  restore(keys: Float64Array, data: Float32Array): void {
    if (data.length !== keys.length * this.dims) {
      throw new QuiverError(
        'INDEX_CORRUPT',
        `snapshot has ${data.length} floats for ${keys.length} keys of ${this.dims} dimensions`,
      );
    }
    this.slotOf.clear();
    keys.forEach((key, slot) => this.slotOf.set(key, slot));
    if (this.slotOf.size !== keys.length) throw new QuiverError('INDEX_CORRUPT', 'snapshot repeats a key');
    this.slotKeys = keys.length > 0 ? keys : new Float64Array(64);
    this.data = keys.length > 0 ? data : new Float32Array(this.dims * 64);
    this.count = keys.length;
  }
}
