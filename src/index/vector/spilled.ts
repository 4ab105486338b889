/**
 * Exact f32 copies of a vector index kept in a scratch file instead of process memory, read back
 * by key with positional reads.
 *
 * Why: a quantized HNSW graph (i8: 384 bytes per 384-d vector) saves memory only if the f32 copies
 * that rescore its candidates do not stay resident too (1,536 bytes each). Rescoring reads only
 * the few dozen candidates of a query; the OS page cache keeps the hot rows, and the cold ones
 * cost a disk read instead of RAM. Reading them from the store of record instead was measured at
 * about 2 ms per query for 32 candidates (SQLite, 100k × 384-d) against about 0.1 ms here.
 *
 * The file is derived scratch, never trusted across processes: it is created fresh (or copied
 * from a saved, checksum-verified vectors file) when the index opens and unlinked at once, so a
 * crash leaves nothing behind and another process never sees it. Rows are cos-normalised like
 * ExactVectorIndex's, so scores are the same whichever holds the copies.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError } from '../../errors.js';
import { TopK, checkDims, normalized, similarity } from './exact.js';
import type { VectorHit, VectorMetric } from './vector-index.js';

/** Rows per positional read when many rows are read in slot order (filtered exact search, save). */
const READ_ROWS = 512;
/** Wanted slots at most this far apart share a read. */
const READ_GAP = 8;

function scratchFile(dir: string): { fd: number; path: string } {
  const path = join(dir, `.quiver-vectors-${process.pid}-${randomBytes(4).toString('hex')}.f32`);
  return { fd: openSync(path, 'w+'), path };
}

/** Unlink at once: the open descriptor keeps the data; a crash cannot leave the file behind. */
function unlinkScratch(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Windows refuses to delete an open file; it is then removed on close.
  }
}

export class SpilledVectors {
  private readonly slotOf = new Map<number, number>();
  /** Key of each slot; NaN marks a free slot (reused by the next put). */
  private slotKeys: Float64Array;
  private readonly free: number[] = [];
  private slots: number;
  private readonly rowBytes: number;
  private batch = new Float32Array(0);
  private closed = false;

  private constructor(
    readonly dims: number,
    readonly metric: VectorMetric,
    private readonly fd: number,
    private readonly path: string,
    /** Byte offset of slot 0 (a copied vectors file starts with its keys). */
    private readonly dataOffset: number,
    keys: Float64Array,
  ) {
    this.rowBytes = dims * 4;
    this.slotKeys = new Float64Array(Math.max(64, keys.length));
    this.slotKeys.set(keys);
    keys.forEach((key, slot) => this.slotOf.set(key, slot));
    this.slots = keys.length;
    if (this.slotOf.size !== keys.length)
      throw new QuiverError('INDEX_CORRUPT', 'vectors file repeats a key');
  }

  /** An empty scratch file in `dir`. */
  static create(dir: string, dims: number, metric: VectorMetric): SpilledVectors {
    const { fd, path } = scratchFile(dir);
    unlinkScratch(path);
    return new SpilledVectors(dims, metric, fd, path, 0, new Float64Array(0));
  }

  /**
   * A copy of a saved vectors file (`keys` as its first keys.length × 8 bytes, then one
   * normalised f32 row per key, in the same order). The saved file itself stays untouched: it is
   * what the next crash-safe save replaces.
   */
  static fromFile(
    dir: string,
    dims: number,
    metric: VectorMetric,
    source: string,
    keys: Float64Array,
  ): SpilledVectors {
    const path = join(dir, `.quiver-vectors-${process.pid}-${randomBytes(4).toString('hex')}.f32`);
    copyFileSync(source, path);
    const fd = openSync(path, 'r+');
    unlinkScratch(path);
    return new SpilledVectors(dims, metric, fd, path, keys.length * 8, keys);
  }

  size(): number {
    return this.slotOf.size;
  }

  has(key: number): boolean {
    return this.slotOf.has(key);
  }

  /** Live keys in slot order. */
  keys(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.slots; s++) if (!Number.isNaN(this.slotKeys[s]!)) out.push(this.slotKeys[s]!);
    return out;
  }

  private scratch(rows: number): Float32Array {
    if (this.batch.length < rows * this.dims) this.batch = new Float32Array(Math.max(rows, 64) * this.dims);
    return this.batch;
  }

  private readRows(slot: number, rows: number, into: Float32Array, atRow: number): void {
    const bytes = rows * this.rowBytes;
    const got = readSync(
      this.fd,
      new Uint8Array(into.buffer, into.byteOffset + atRow * this.rowBytes, bytes),
      0,
      bytes,
      this.dataOffset + slot * this.rowBytes,
    );
    if (got !== bytes)
      throw new QuiverError('INDEX_CORRUPT', `vector scratch file ${this.path} is short at slot ${slot}`);
  }

  /** Upsert vectors (normalised here for cos). */
  put(keys: number[], vectors: Float32Array[]): void {
    const rows = new Float32Array(keys.length * this.dims);
    vectors.forEach((v, i) => {
      checkDims(v, this.dims);
      rows.set(this.metric === 'cos' ? normalized(v) : v, i * this.dims);
    });
    this.putRows(keys, rows);
  }

  /** Upsert rows already in stored form (e.g. an ExactVectorIndex snapshot), one write per run of slots. */
  putRows(keys: ArrayLike<number>, rows: Float32Array): void {
    this.live();
    const slotsOf = new Array<number>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let slot = this.slotOf.get(key);
      if (slot === undefined) {
        slot = this.free.pop() ?? this.slots++;
        if (slot >= this.slotKeys.length) {
          const grown = new Float64Array(this.slotKeys.length * 2);
          grown.set(this.slotKeys);
          this.slotKeys = grown;
        }
        this.slotKeys[slot] = key;
        this.slotOf.set(key, slot);
      }
      slotsOf[i] = slot;
    }
    // Appends are consecutive slots: a bulk add is a single write.
    for (let i = 0; i < keys.length;) {
      let j = i + 1;
      while (j < keys.length && slotsOf[j] === slotsOf[j - 1]! + 1) j++;
      const bytes = new Uint8Array(rows.buffer, rows.byteOffset + i * this.rowBytes, (j - i) * this.rowBytes);
      let done = 0;
      while (done < bytes.length)
        done += writeSync(
          this.fd,
          bytes,
          done,
          bytes.length - done,
          this.dataOffset + slotsOf[i]! * this.rowBytes + done,
        );
      i = j;
    }
  }

  delete(keys: number[]): void {
    for (const key of keys) {
      const slot = this.slotOf.get(key);
      if (slot === undefined) continue;
      this.slotOf.delete(key);
      this.slotKeys[slot] = NaN;
      this.free.push(slot);
    }
  }

  /**
   * Exact scores of `keys` (those present), reading one row per key: the rescoring path, a few
   * dozen candidates scattered over the file.
   */
  scoreKeys(query: Float32Array, keys: Iterable<number>): VectorHit[] {
    this.live();
    const q = this.metric === 'cos' ? normalized(query) : query;
    const row = this.scratch(1);
    const out: VectorHit[] = [];
    for (const key of keys) {
      const slot = this.slotOf.get(key);
      if (slot === undefined) continue;
      this.readRows(slot, 1, row, 0);
      out.push({ key, score: similarity(this.metric, row, 0, q, this.dims) });
    }
    return out;
  }

  /**
   * Rows of `keys` (all live ones when omitted) in slot order, read in runs of adjacent slots:
   * `each(key, rows, offset)`. Used for exact search over many keys, saving and un-spilling.
   */
  forEachRow(each: (key: number, rows: Float32Array, offset: number) => void, keys?: Iterable<number>): void {
    this.live();
    let slots: number[];
    if (keys) {
      slots = [];
      for (const key of keys) {
        const slot = this.slotOf.get(key);
        if (slot !== undefined) slots.push(slot);
      }
      slots.sort((a, b) => a - b);
    } else {
      slots = [];
      for (let s = 0; s < this.slots; s++) if (!Number.isNaN(this.slotKeys[s]!)) slots.push(s);
    }
    const buf = this.scratch(READ_ROWS);
    for (let i = 0; i < slots.length;) {
      // One read per run of nearby slots (up to READ_GAP − 1 free or unwanted rows in between are
      // read and skipped: cheaper than another system call); scattered keys get a read each.
      let j = i + 1;
      while (j < slots.length && slots[j]! - slots[j - 1]! <= READ_GAP && slots[j]! - slots[i]! < READ_ROWS)
        j++;
      const first = slots[i]!;
      const span = slots[j - 1]! - first + 1;
      this.readRows(first, span, buf, 0);
      for (let m = i; m < j; m++) each(this.slotKeys[slots[m]!]!, buf, (slots[m]! - first) * this.dims);
      i = j;
    }
  }

  /** Exact top-k among `keys` (all live ones when omitted). */
  search(query: Float32Array, k: number, keys?: Iterable<number>): VectorHit[] {
    const q = this.metric === 'cos' ? normalized(query) : query;
    const top = new TopK(Math.max(0, Math.min(k, this.size())));
    this.forEachRow(
      (key, rows, off) => top.push(key, similarity(this.metric, rows, off, q, this.dims)),
      keys,
    );
    return top.sorted();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    unlinkScratch(this.path);
  }

  private live(): void {
    if (this.closed) throw new QuiverError('INVALID_ARGUMENT', 'vector scratch file already closed');
  }
}
