/**
 * Opening data files: BEIR mirrors and MTEB exports often ship `.jsonl.gz`, so every reader of
 * dataset files goes through here and a gzipped file reads like its plain twin.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { QuiverError } from '../errors.js';

const gzipError = (path: string, e: unknown) =>
  new QuiverError('INVALID_ARGUMENT', `not valid gzip data: ${(e as Error).message}`, {
    location: { file: path },
  });

/** The file's bytes, streamed; gunzipped when the name ends in `.gz`. */
export async function* openFileStream(path: string): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!path.endsWith('.gz')) {
    yield* raw as AsyncIterable<Buffer>;
    return;
  }
  const gunzip = createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  try {
    yield* gunzip as AsyncIterable<Buffer>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw gzipError(path, e);
    throw e;
  } finally {
    raw.destroy();
  }
}

/** The whole file as UTF-8 text without a byte-order mark; gunzipped when it ends in `.gz`. */
export async function readTextFile(path: string): Promise<string> {
  let bytes = await readFile(path);
  if (path.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw gzipError(path, e);
    }
  }
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
