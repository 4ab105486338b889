/**
 * HNSW on usearch, with quantized candidate search and exact rescoring.
 *
 * The graph stores vectors in the chosen scalar type (f32, f16, i8 — cos only —, or b1 sign bits);
 * an exact f32 copy is kept beside it (in memory, or spilled to a scratch file for large indexes:
 * see `spill`). A search asks the graph for `oversample × k` candidates and rescores the best
 * `rescore × k` of them exactly, more while the exact top k reaches the end of that window, which
 * restores the recall that quantization loses (20k × 64-d clustered, same graph: raw i8 top-10
 * R@10 ≈ 0.96, rescored ≥ 0.99). b1 is offered for high-dimensional embeddings only: on 32-d
 * clustered data even 16× oversampling reaches 0.54.
 *
 * Filters keep their recall (Qdrant #5606). usearch's JS binding has no filtered search, so:
 * - a selective filter (at most `filterExactMax` allowed vectors, known from `allowedKeys` or
 *   `selectivity`) is answered by exact search over the allowed vectors. Cost: one dot product per
 *   allowed vector, about 0.3 µs at 384-d in JS, so 20k allowed ≈ 6 ms. The graph would need about
 *   k / selectivity candidates to find k allowed ones (1,000 at 1% for k = 10), and HNSW's recall
 *   under a predicate collapses as the allowed part of the graph stops being connected;
 * - otherwise the graph is searched for k / selectivity × 1.5 candidates (or `oversample × k`
 *   when selectivity is unknown), keeping allowed ones; while fewer than k pass, the candidate
 *   count grows 4× until it would exceed n / 8, where exact search over the allowed set is cheaper
 *   than the graph and is what answers.
 *
 * Persistence: `save` writes the usearch graph file (loadable or memory-mapped by usearch as is),
 * a file of the exact vectors, and a JSON sidecar with the format version, parameters, count,
 * watermark (the store change seq the index reflects) and sha256 + size of both files. Every file
 * is written under a temporary name, fsynced, and renamed; the sidecar goes last, so a crash
 * anywhere leaves either the old set or a set whose checksums disagree. `open` verifies all of it
 * before usearch reads a byte (usearch trusts its file), and raises INDEX_CORRUPT otherwise so the
 * engine rebuilds from the store of record.
 */
import { createHash } from 'node:crypto';
import { createReadStream, writeSync } from 'node:fs';
import { open as openFile, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import usearchModule from 'usearch';
import type { Index as UsearchIndex, MetricKind, ScalarKind } from 'usearch';
import { QuiverError } from '../../errors.js';
import { ExactVectorIndex, TopK, checkDims } from './exact.js';
import { SpilledVectors } from './spilled.js';
import type { CompiledFilter } from '../../retrieve/filter.js';
import type { StoredVector } from '../../store/store.js';
import type { VectorHit, VectorIndex, VectorMetric, VectorSearchOptions } from './vector-index.js';

export type Quantization = 'f32' | 'f16' | 'i8' | 'b1';

export interface UsearchOptions {
  dims: number;
  metric?: VectorMetric;
  quantization?: Quantization;
  /** HNSW M: neighbours per node. */
  connectivity?: number;
  /** HNSW efConstruction. */
  expansionAdd?: number;
  /** HNSW ef at search; a search asking for more candidates widens it (`ef` search option). */
  expansionSearch?: number;
  /** Candidates fetched per result before exact rescoring (quantized indexes). */
  oversample?: number;
  /**
   * Candidates rescored exactly per result, to begin with: the window (in the graph's order)
   * doubles while the exact top k still reaches into its last k/2 places, up to all fetched
   * candidates. 100k × 384-d clustered, graph breadth 256: the exact top 10 lies within the first
   * 16 i8 candidates for 99% of queries and within 18 for all, so rescoring 20 instead of 80
   * candidates loses nothing and reads 4× fewer f32 rows (a positional read each when spilled).
   */
  rescore?: number;
  /**
   * At or below this many vectors, search exactly: a scan of 20k × 384 floats takes a few
   * milliseconds, and exact search has no recall loss (HNSW degrades on near-duplicate points).
   */
  exactBelow?: number;
  /** Filters allowing at most this many vectors are answered exactly (see the file comment). */
  filterExactMax?: number;
  /**
   * Fetch f32 vectors of record (the engine's store) for rescoring and exact search, instead of
   * keeping a copy in memory: what makes a quantized graph save memory. Then `exactBelow` defaults
   * to 0 (a scan would fetch every vector) and saves hold keys only.
   */
  getVectors?: (keys: number[]) => Promise<StoredVector[]>;
  /**
   * Move the exact f32 copies out of memory into a scratch file in `dir` (see ./spilled) once the
   * index holds more than `residentMax` vectors (default: `exactBelow`'s default, 20,000), and back
   * into memory when it shrinks to half that. Small indexes are searched exactly and stay in
   * memory; large ones read only the rescored candidates. Saves still include the vectors, so a
   * reopened index needs nothing from the store.
   */
  spill?: { dir: string; residentMax?: number };
}

export interface OpenOptions extends UsearchOptions {
  /**
   * Memory-map the graph (usearch `view`) instead of reading it into memory: opens in the time it
   * takes to checksum, shares pages between processes, but add/remove are refused.
   */
  readOnly?: boolean;
}

const METRIC: Record<VectorMetric, string> = { cos: 'cos', ip: 'ip', l2: 'l2sq' };
const FORMAT_VERSION = 2;
/** usearch pads a short result list with the largest key. */
const NO_KEY = 0xffffffffffffffffn;

interface FileDigest {
  bytes: number;
  sha256: string;
}

interface Sidecar {
  format: 'quiver-usearch';
  version: number;
  dims: number;
  metric: VectorMetric;
  quantization: Quantization;
  connectivity: number;
  count: number;
  watermark: number;
  /** false: the vectors file holds keys only (the index fetched vectors from the store). */
  vectorsIncluded: boolean;
  graph: FileDigest;
  vectors: FileDigest;
}

/** The files of a saved index: the usearch graph at `path`, beside it the vectors and sidecar. */
export function indexFiles(path: string): { graph: string; vectors: string; sidecar: string } {
  return { graph: path, vectors: `${path}.vectors`, sidecar: `${path}.json` };
}

async function digest(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await openFile(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class UsearchVectorIndex implements VectorIndex {
  readonly dims: number;
  readonly metric: VectorMetric;
  readonly quantization: Quantization;
  private index: UsearchIndex;
  /** Exact vectors of what is in the graph: rescoring, filtered exact search, persistence. */
  private exact: ExactVectorIndex;
  /** The exact vectors when they are spilled to a scratch file (then `exact` is empty). */
  private spilled: SpilledVectors | undefined;
  private readonly spill: { dir: string; residentMax: number } | undefined;
  /** With getVectors: the keys in the graph (the vectors stay in the store). */
  private readonly fetchedKeys: Set<number> | undefined;
  private readonly getVectors: ((keys: number[]) => Promise<StoredVector[]>) | undefined;
  private readonly oversample: number;
  private readonly rescore: number;
  private readonly exactBelow: number;
  private readonly filterExactMax: number;
  private readonly params: Required<
    Pick<UsearchOptions, 'connectivity' | 'expansionAdd' | 'expansionSearch'>
  >;
  private readOnly = false;

  constructor(opts: UsearchOptions) {
    this.dims = opts.dims;
    this.metric = opts.metric ?? 'cos';
    this.quantization = opts.quantization ?? 'f32';
    if (this.quantization === 'i8' && this.metric !== 'cos') {
      // usearch scales every vector to unit length before rounding it to i8, which keeps cosine
      // but not l2 or inner product: measured recall@10 0.89 for l2 even after exact rescoring.
      throw new QuiverError(
        'INVALID_CONFIG',
        `i8 quantization needs metric "cos" (got "${this.metric}"); use f16 for ${this.metric}`,
        {
          location: { field: 'quantization' },
        },
      );
    }
    this.getVectors = opts.getVectors;
    this.fetchedKeys = opts.getVectors ? new Set() : undefined;
    this.exactBelow = opts.exactBelow ?? (opts.getVectors ? 0 : 20_000);
    this.spill =
      opts.spill && !opts.getVectors
        ? { dir: opts.spill.dir, residentMax: opts.spill.residentMax ?? 20_000 }
        : undefined;
    this.filterExactMax = opts.filterExactMax ?? 20_000;
    this.oversample = opts.oversample ?? { f32: 2, f16: 4, i8: 8, b1: 16 }[this.quantization];
    this.rescore = opts.rescore ?? { f32: 1, f16: 2, i8: 2, b1: 16 }[this.quantization];
    this.params = {
      connectivity: opts.connectivity ?? 16,
      expansionAdd: opts.expansionAdd ?? 128,
      expansionSearch: opts.expansionSearch ?? 256,
    };
    this.index = this.newGraph();
    this.exact = new ExactVectorIndex(this.dims, this.metric);
  }

  private newGraph(): UsearchIndex {
    // Binary codes compare by Hamming distance; the exact rescoring restores the real metric.
    // (i8 by inner product of usearch's length-normalised codes instead of its i8 cosine was
    // tried: about 1.15× faster per step at 100k × 384-d, but lower recall at the same breadth —
    // ef 20: 0.985 against 0.992 — because the truncated codes' lengths differ; no gain at equal recall.)
    const metric = this.quantization === 'b1' ? 'hamming' : METRIC[this.metric];
    return new usearchModule.Index({
      dimensions: this.dims,
      metric: metric as MetricKind,
      quantization: this.quantization as ScalarKind,
      connectivity: this.params.connectivity,
      expansion_add: this.params.expansionAdd,
      expansion_search: this.params.expansionSearch,
      multi: false,
    });
  }

  size(): number {
    return this.fetchedKeys?.size ?? this.spilled?.size() ?? this.exact.size();
  }

  /** Exact f32 copies held in process memory (0 when spilled to disk or fetched from the store). */
  residentVectors(): number {
    return this.exact.size();
  }

  private has(key: number): boolean {
    return this.fetchedKeys?.has(key) ?? this.spilled?.has(key) ?? this.exact.has(key);
  }

  /** Spill the copies above `residentMax`, take them back into memory at half of it. */
  private rebalance(): void {
    if (!this.spill) return;
    if (!this.spilled && this.exact.size() > this.spill.residentMax) {
      const spilled = SpilledVectors.create(this.spill.dir, this.dims, this.metric);
      const { keys, data } = this.exact.snapshot();
      spilled.putRows(keys, data);
      this.spilled = spilled;
      this.exact = new ExactVectorIndex(this.dims, this.metric);
    } else if (this.spilled && this.spilled.size() <= this.spill.residentMax / 2) {
      const exact = new ExactVectorIndex(this.dims, this.metric);
      const keys = new Float64Array(this.spilled.size());
      const data = new Float32Array(keys.length * this.dims);
      let row = 0;
      // Rows are in stored (normalised) form, which restore takes as is.
      this.spilled.forEachRow((key, buf, off) => {
        keys[row] = key;
        data.set(buf.subarray(off, off + this.dims), row++ * this.dims);
      });
      exact.restore(keys, data);
      this.spilled.close();
      this.spilled = undefined;
      this.exact = exact;
    }
  }

  /** Release the scratch file of spilled vectors (the index is unusable afterwards if it had one). */
  close(): void {
    this.spilled?.close();
  }

  /** Exact vectors for `keys` (those present), in memory or fetched from the store. */
  private async exactFor(keys: number[]): Promise<ExactVectorIndex> {
    if (!this.getVectors) return this.exact;
    const scratch = new ExactVectorIndex(this.dims, this.metric);
    const present = keys.filter((k) => this.fetchedKeys!.has(k));
    if (present.length === 0) return scratch;
    const fetched = await this.getVectors(present);
    scratch.addSync(
      fetched.map((v) => v.key),
      fetched.map((v) => v.vector),
    );
    return scratch;
  }

  /** Exact top-k under an optional filter: over memory, or over the fetched allowed vectors. */
  private async exactSearch(
    query: Float32Array,
    k: number,
    f: CompiledFilter | undefined,
  ): Promise<VectorHit[]> {
    if (this.spilled) {
      let keys: Iterable<number> | undefined = f?.allowedKeys;
      if (f?.allows) keys = (keys ? [...keys] : this.spilled.keys()).filter(f.allows);
      return this.spilled.search(query, k, keys);
    }
    if (!this.fetchedKeys) return this.exact.searchSync(query, k, f ? { filter: f } : {});
    let keys = f?.allowedKeys ?? [...this.fetchedKeys];
    if (f?.allows) keys = keys.filter(f.allows);
    return (await this.exactFor(keys)).searchSync(query, k);
  }

  private writable(): void {
    if (this.readOnly) {
      throw new QuiverError(
        'NOT_IMPLEMENTED',
        'this vector index was opened read-only (memory-mapped); open it without readOnly to change it',
      );
    }
  }

  async add(keys: number[], vectors: Float32Array[]): Promise<void> {
    this.writable();
    if (keys.length !== vectors.length)
      throw new QuiverError('INVALID_ARGUMENT', 'keys and vectors differ in length');
    if (keys.length === 0) return;
    vectors.forEach((v) => checkDims(v, this.dims));
    if (new Set(keys).size !== keys.length) {
      // A key repeated within one batch: the last vector wins, as if added one after another.
      const last = new Map<number, Float32Array>();
      keys.forEach((k, i) => last.set(k, vectors[i]!));
      keys = [...last.keys()];
      vectors = [...last.values()];
    }
    const replaced = keys.filter((k) => this.has(k));
    if (replaced.length) this.index.remove(BigUint64Array.from(replaced.map(BigInt)));
    if (this.fetchedKeys) for (const k of keys) this.fetchedKeys.add(k);
    else if (this.spilled) this.spilled.put(keys, vectors);
    else this.exact.addSync(keys, vectors);
    const flat = new Float32Array(keys.length * this.dims);
    vectors.forEach((v, i) => flat.set(v, i * this.dims));
    // threads = 0: one per core. b1 graphs binarise by sign (x > 0) inside usearch.
    this.index.add(BigUint64Array.from(keys.map(BigInt)), flat);
    this.rebalance();
  }

  async remove(keys: number[]): Promise<void> {
    this.writable();
    const present = [...new Set(keys)].filter((k) => this.has(k));
    if (present.length === 0) return;
    this.index.remove(BigUint64Array.from(present.map(BigInt)));
    if (this.fetchedKeys) for (const k of present) this.fetchedKeys.delete(k);
    else if (this.spilled) this.spilled.delete(present);
    else this.exact.removeSync(present);
    this.rebalance();
  }

  /**
   * The best `k` of `n` graph candidates that pass `allows`. f32 graph distances are already exact
   * (cos/ip: 1 − d, l2sq: −d), so the f32 path converts only the hits it returns; quantized graphs
   * rescore every candidate with the f32 copies.
   */
  private async scored(
    query: Float32Array,
    n: number,
    k: number,
    allows?: (key: number) => boolean,
  ): Promise<VectorHit[]> {
    // One thread: a single query gains nothing from usearch's pool, and threads=0 means one per core.
    const m = this.index.search(query, Math.min(n, this.size()), 1);
    const found = m.keys.length;
    if (this.quantization === 'f32') {
      const out: VectorHit[] = [];
      for (let i = 0; i < found && out.length < k; i++) {
        const key = m.keys[i]!;
        if (key === NO_KEY) break;
        const numeric = Number(key);
        if (allows && !allows(numeric)) continue;
        const d = m.distances[i]!;
        out.push({ key: numeric, score: this.metric === 'l2' ? -d : 1 - d });
      }
      return out;
    }
    const candidates: number[] = [];
    for (let i = 0; i < found; i++) {
      const key = m.keys[i]!;
      if (key === NO_KEY) break;
      const numeric = Number(key);
      if (!allows || allows(numeric)) candidates.push(numeric);
    }
    return this.rescored(query, candidates, k);
  }

  /**
   * Exact top k of `candidates` (in the graph's order), rescoring a window of them that doubles
   * while the best k so far include one of the window's last k/2 (more may follow beyond it).
   */
  private async rescored(query: Float32Array, candidates: number[], k: number): Promise<VectorHit[]> {
    const tail = Math.max(1, k >> 1);
    const scored: VectorHit[] = [];
    let done = 0;
    let window = Math.min(candidates.length, Math.max(k, k * this.rescore));
    for (;;) {
      const more = candidates.slice(done, window);
      // Only a store fetch needs to wait; memory and the scratch file answer synchronously.
      const source = this.spilled ?? (this.getVectors ? await this.exactFor(more) : this.exact);
      const first = done;
      for (const h of source.scoreKeys(query, more)) scored.push(h);
      done = window;
      const top = new TopK(Math.min(k, scored.length));
      for (const h of scored) top.push(h.key, h.score);
      const best = top.sorted();
      if (window >= candidates.length) return best;
      // The graph's rank of each of the best; keys from earlier rounds rank below `first`.
      const position = new Map(more.map((key, i) => [key, first + i]));
      let reach = 0;
      for (const h of best) reach = Math.max(reach, position.get(h.key) ?? 0);
      if (reach < window - tail) return best;
      window = Math.min(candidates.length, window * 2);
    }
  }

  async search(query: Float32Array, k: number, opts: VectorSearchOptions = {}): Promise<VectorHit[]> {
    checkDims(query, this.dims, 'query');
    const n = this.size();
    if (n === 0 || k <= 0) return [];
    const f = opts.filter;
    // Spilled copies mean a large index (or one shrinking back): a scan would read them all.
    if (n <= this.exactBelow && !this.spilled) return this.exactSearch(query, k, f);
    const ef = opts.ef ?? 0;
    if (!f) return this.scored(query, Math.max(k * this.oversample, k + 16, ef), k);

    const allowedCount =
      f.allowedKeys?.length ?? (f.selectivity !== undefined ? Math.ceil(f.selectivity * n) : undefined);
    if (allowedCount !== undefined && allowedCount <= this.filterExactMax)
      return this.exactSearch(query, k, f);
    let allows = f.allows;
    if (!allows) {
      if (!f.allowedKeys) {
        throw new QuiverError(
          'INVALID_ARGUMENT',
          'a filter for an embedded vector index needs allows(key) or allowedKeys',
        );
      }
      const allowed = new Set(f.allowedKeys);
      allows = (key) => allowed.has(key);
    }
    const fraction = allowedCount !== undefined ? Math.max(allowedCount / n, 1e-6) : 1;
    let want = Math.max(Math.ceil((k * 1.5) / fraction), k * this.oversample, k + 16, ef);
    for (;;) {
      if (want > n / 8) return this.exactSearch(query, k, f);
      const hits = await this.scored(query, want, k, allows);
      if (hits.length >= k) return hits;
      want *= 4;
    }
  }

  /**
   * Ask the graph for `candidates` neighbours and keep the best k after exact rescoring — the
   * breadth/recall knob (HNSW's ef) at query time, since usearch fixes expansion_search at build.
   */
  async searchWithCandidates(query: Float32Array, k: number, candidates: number): Promise<VectorHit[]> {
    checkDims(query, this.dims, 'query');
    return this.scored(query, Math.max(k, candidates), k);
  }

  /**
   * Save graph + exact vectors atomically, with a sidecar describing and checksumming them.
   * `watermark` is the store change seq this index reflects (a number is accepted for callers of
   * the first version).
   */
  async save(path: string, opts: { watermark: number } | number): Promise<void> {
    const watermark = typeof opts === 'number' ? opts : opts.watermark;
    const files = indexFiles(path);
    const tmp = (p: string) => `${p}.tmp-${process.pid}`;
    try {
      this.index.save(tmp(files.graph));
      await fsyncPath(tmp(files.graph));
      const { keys, data } = this.fetchedKeys
        ? { keys: Float64Array.from(this.fetchedKeys), data: new Float32Array(0) }
        : this.spilled
          ? { keys: Float64Array.from(this.spilled.keys()), data: new Float32Array(0) }
          : this.exact.snapshot();
      const fh = await openFile(tmp(files.vectors), 'w');
      try {
        await fh.write(new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength));
        // Chunked: a single write call is limited to 2 GB.
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        for (let off = 0; off < bytes.length; off += 1 << 28)
          await fh.write(bytes.subarray(off, off + (1 << 28)));
        if (this.spilled) this.copySpilledRows(fh.fd);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const sidecar: Sidecar = {
        format: 'quiver-usearch',
        version: FORMAT_VERSION,
        dims: this.dims,
        metric: this.metric,
        quantization: this.quantization,
        connectivity: this.params.connectivity,
        count: keys.length,
        watermark,
        vectorsIncluded: !this.fetchedKeys,
        graph: await digest(tmp(files.graph)),
        vectors: await digest(tmp(files.vectors)),
      };
      const sh = await openFile(tmp(files.sidecar), 'w');
      try {
        await sh.writeFile(JSON.stringify(sidecar));
        await sh.sync();
      } finally {
        await sh.close();
      }
      await rename(tmp(files.graph), files.graph);
      await rename(tmp(files.vectors), files.vectors);
      await rename(tmp(files.sidecar), files.sidecar);
      await fsyncPath(dirname(path)).catch(() => undefined); // directories cannot be fsynced everywhere
    } finally {
      await Promise.all(Object.values(files).map((p) => rm(tmp(p), { force: true })));
    }
  }

  /** Append the spilled rows, in the order of `spilled.keys()`, to the file open at `fd`. */
  private copySpilledRows(fd: number): void {
    const chunk = new Float32Array(1024 * this.dims);
    let rows = 0;
    const flush = () => {
      const bytes = new Uint8Array(chunk.buffer, 0, rows * this.dims * 4);
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
      rows = 0;
    };
    this.spilled!.forEachRow((_key, buf, off) => {
      chunk.set(buf.subarray(off, off + this.dims), rows++ * this.dims);
      if (rows === 1024) flush();
    });
    flush();
  }

  /**
   * Open a saved index; INDEX_CORRUPT when a file or the sidecar is missing or disagrees (torn
   * write, other parameters, bytes changed). `watermark` tells the caller which store seq it
   * reflects; the caller compares it with the store's and rebuilds when they differ.
   */
  static async open(
    path: string,
    opts: OpenOptions,
  ): Promise<{ index: UsearchVectorIndex; watermark: number }> {
    const files = indexFiles(path);
    const corrupt = (why: string) =>
      new QuiverError('INDEX_CORRUPT', `vector index ${path}: ${why}`, { location: { file: path } });
    let side: Sidecar;
    try {
      side = JSON.parse(await readFile(files.sidecar, 'utf8')) as Sidecar;
    } catch (e) {
      throw corrupt(
        (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing sidecar' : 'unreadable sidecar',
      );
    }
    if (side.format !== 'quiver-usearch' || side.version !== FORMAT_VERSION)
      throw corrupt(`format ${side.format} version ${side.version}`);
    const wanted = {
      dims: opts.dims,
      metric: opts.metric ?? 'cos',
      quantization: opts.quantization ?? 'f32',
      connectivity: opts.connectivity ?? 16,
    };
    for (const [name, value] of Object.entries(wanted)) {
      if (side[name as keyof typeof wanted] !== value)
        throw corrupt(
          `built with ${name} ${String(side[name as keyof typeof wanted])}, wanted ${String(value)}`,
        );
    }
    for (const part of ['graph', 'vectors'] as const) {
      const size = await stat(files[part]).then(
        (s) => s.size,
        () => undefined,
      );
      if (size === undefined) throw corrupt(`missing ${part} file`);
      if (size !== side[part].bytes)
        throw corrupt(
          `${part} file size ${size} differs from the sidecar's ${side[part].bytes} (torn write?)`,
        );
    }
    for (const part of ['graph', 'vectors'] as const) {
      if ((await digest(files[part])).sha256 !== side[part].sha256)
        throw corrupt(`${part} file checksum mismatch`);
    }
    const vectorBytes = side.vectorsIncluded ? side.dims * 4 : 0;
    if (side.vectors.bytes !== side.count * (8 + vectorBytes))
      throw corrupt('vectors file does not hold count vectors');
    if (!side.vectorsIncluded && !opts.getVectors)
      throw corrupt('saved without vectors: open it with getVectors');

    const index = new UsearchVectorIndex(opts);
    try {
      if (opts.readOnly) index.index.view(files.graph);
      else index.index.load(files.graph);
    } catch (e) {
      throw corrupt(`usearch could not read the graph: ${(e as Error).message}`);
    }
    index.readOnly = opts.readOnly === true;
    if (index.index.size() !== side.count)
      throw corrupt(`graph has ${index.index.size()} vectors, sidecar says ${side.count}`);
    const spill = index.spill;
    if (spill && side.vectorsIncluded && side.count > spill.residentMax) {
      // Large: copy the verified file to scratch and read the keys only.
      const keys = new Float64Array(side.count);
      const fh = await openFile(files.vectors, 'r');
      try {
        await fh.read(new Uint8Array(keys.buffer), 0, keys.byteLength, 0);
      } finally {
        await fh.close();
      }
      index.spilled = SpilledVectors.fromFile(spill.dir, side.dims, side.metric, files.vectors, keys);
      return { index, watermark: side.watermark };
    }
    const raw = await readFile(files.vectors);
    // Copies: a Buffer's offset need not be aligned for Float64Array.
    const keys = new Float64Array(side.count);
    new Uint8Array(keys.buffer).set(raw.subarray(0, side.count * 8));
    const data = new Float32Array(opts.getVectors ? 0 : side.count * side.dims);
    new Uint8Array(data.buffer).set(raw.subarray(side.count * 8, side.count * 8 + data.byteLength));
    if (index.fetchedKeys) for (const k of keys) index.fetchedKeys.add(k);
    else index.exact.restore(keys, data);
    return { index, watermark: side.watermark };
  }
}
