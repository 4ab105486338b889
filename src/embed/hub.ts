/**
 * Model downloads from the Hugging Face hub into a local cache, for real users (this build machine
 * has no hub access; tests run a fake hub on loopback).
 *
 * Layout: `<cache>/models/<owner>/<name>/<revision>/<file>`, cache = cacheDir option, else
 * $QUIVER_CACHE, else ~/.cache/quiver. URLs: `<endpoint>/<repo>/resolve/<revision>/<file>`, endpoint
 * = $QUIVER_HF_ENDPOINT, else $HF_ENDPOINT, else https://huggingface.co; $HF_TOKEN for gated repos.
 *
 * - Atomic: a file is written to `<name>.part`, fsynced, verified, then renamed, so a half-written
 *   file is never mistaken for a model.
 * - Resumable: an existing `.part` is continued with an HTTP Range request — across runs, and
 *   within one run when the connection drops (a few attempts before giving up).
 * - Verified: the hub answers LFS files with a 302 whose X-Linked-Etag is the file's sha256 and
 *   X-Linked-Size its size; those headers are read from the un-followed first response (a HEAD),
 *   because the CDN the redirect leads to does not repeat them. Else the size is checked against
 *   Content-Length / Content-Range.
 * - Locked: one process downloads a given file at a time (marqo #519: concurrent workers
 *   corrupting the cache); the lock's mtime is refreshed while downloading so a dead holder's lock
 *   goes stale quickly and is taken over.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { QuiverError } from '../errors.js';

export interface HubOptions {
  endpoint?: string;
  revision?: string;
  cacheDir?: string;
  token?: string;
  /** Milliseconds without progress before a request is abandoned (default 60 s). */
  timeoutMs?: number;
  /** Attempts per file when the connection drops; each resumes from the bytes already on disk. */
  attempts?: number;
  /** A lock not refreshed for this long belongs to a dead process (default 60 s). */
  staleLockMs?: number;
}

export function hubEndpoint(opts: HubOptions = {}): string {
  const endpoint = opts.endpoint ?? process.env.QUIVER_HF_ENDPOINT ?? process.env.HF_ENDPOINT;
  return (endpoint || 'https://huggingface.co').replace(/\/+$/, '');
}

export function modelCacheDir(repo: string, revision: string, opts: HubOptions = {}): string {
  const root = opts.cacheDir ?? process.env.QUIVER_CACHE ?? join(homedir(), '.cache', 'quiver');
  return join(root, 'models', ...repo.split('/'), revision);
}

export function fileUrl(repo: string, file: string, opts: HubOptions = {}): string {
  const revision = encodeURIComponent(opts.revision ?? 'main');
  return `${hubEndpoint(opts)}/${repo}/resolve/${revision}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

function downloadError(url: string, why: string, cause?: unknown): QuiverError {
  return new QuiverError(
    'MODEL_DOWNLOAD_FAILED',
    `could not download ${url}: ${why}. Without network access, download the model elsewhere and pass --model-dir <folder>`,
    { ...(cause ? { cause } : {}), details: { url } },
  );
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withLock<T>(path: string, staleMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const mtime = (await stat(lock).catch(() => undefined))?.mtimeMs;
      if (mtime !== undefined && Date.now() - mtime > staleMs) await rm(lock, { force: true });
      else await sleep(100);
    }
  }
  // Keep the lock fresh while we work so waiters can tell a live holder from a dead one.
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(lock, now, now).catch(() => undefined);
    },
    Math.max(50, staleMs / 4),
  );
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await rm(lock, { force: true });
  }
}

interface Expected {
  sha256?: string;
  size?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;
function cleanEtag(h: string | null): string | undefined {
  const v = h?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return v && SHA256.test(v) ? v : undefined;
}

function authHeaders(opts: HubOptions): Record<string, string> {
  const token = opts.token ?? process.env.HF_TOKEN;
  return { 'user-agent': 'quiver', ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

function statusError(url: string, status: number): QuiverError {
  if (status === 404)
    return downloadError(url, 'not found (HTTP 404) — check the model name, revision and file');
  if (status === 401 || status === 403) {
    return downloadError(url, `access denied (HTTP ${status}) — set HF_TOKEN for gated or private models`);
  }
  return downloadError(url, `HTTP ${status}`);
}

/** What the hub says the file is: from the first, un-followed response (LFS: a 302 with X-Linked-*). */
async function probe(url: string, opts: HubOptions): Promise<Expected> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'HEAD',
      headers: authHeaders(opts),
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
  } catch (e) {
    throw downloadError(url, `${(e as Error).message} (offline?)`, e);
  }
  if (res.status >= 400) throw statusError(url, res.status);
  const sha256 = cleanEtag(res.headers.get('x-linked-etag')) ?? cleanEtag(res.headers.get('etag'));
  const sizeHeader =
    res.headers.get('x-linked-size') ?? (res.status < 300 ? res.headers.get('content-length') : null);
  const size = sizeHeader === null ? NaN : Number(sizeHeader);
  return { ...(sha256 ? { sha256 } : {}), ...(Number.isFinite(size) ? { size } : {}) };
}

/** One GET into `part`, continuing from its current size. Returns the expected total size if known. */
async function fetchInto(url: string, part: string, opts: HubOptions): Promise<number | undefined> {
  const have = existsSync(part) ? (await stat(part)).size : 0;
  const headers = authHeaders(opts);
  if (have > 0) headers['range'] = `bytes=${have}-`;
  const controller = new AbortController();
  const idleMs = opts.timeoutMs ?? 60_000;
  let idle = setTimeout(() => controller.abort(), idleMs);
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow', signal: controller.signal });
    } catch (e) {
      throw downloadError(url, `${(e as Error).message} (offline?)`, e);
    }
    if (res.status === 416 && have > 0) return have; // we already have every byte
    if (!res.ok || !res.body) throw statusError(url, res.status);
    const resumed = res.status === 206;
    const total = resumed
      ? Number(res.headers.get('content-range')?.split('/')[1] ?? NaN)
      : Number(res.headers.get('content-length') ?? NaN);
    const fh = await open(part, resumed ? 'a' : 'w');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(), idleMs);
        await fh.write(chunk);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    return Number.isFinite(total) ? total : undefined;
  } finally {
    clearTimeout(idle);
  }
}

/** Download one file of a repo (if not cached) and return its local path. */
export async function downloadFile(repo: string, file: string, opts: HubOptions = {}): Promise<string> {
  const dest = join(modelCacheDir(repo, opts.revision ?? 'main', opts), file);
  if (existsSync(dest)) return dest;
  await mkdir(dirname(dest), { recursive: true });
  const url = fileUrl(repo, file, opts);
  return withLock(dest, opts.staleLockMs ?? 60_000, async () => {
    if (existsSync(dest)) return dest; // another process finished it while we waited
    const part = `${dest}.part`;
    const expected = await probe(url, opts);
    const attempts = Math.max(1, opts.attempts ?? 4);
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const total = await fetchInto(url, part, opts);
        const size = (await stat(part)).size;
        const want = expected.size ?? total;
        if (want !== undefined && size < want)
          throw new Error(`connection closed after ${size} of ${want} bytes`);
        if (want !== undefined && size > want) {
          await rm(part, { force: true });
          throw downloadError(url, `got ${size} bytes, expected ${want}; the partial file was removed`);
        }
        lastError = undefined;
        break;
      } catch (e) {
        if (e instanceof QuiverError && !/offline|timed out|aborted/i.test(e.message)) throw e;
        lastError = e;
        if (attempt < attempts) await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
    if (lastError) {
      const have = existsSync(part) ? (await stat(part)).size : 0;
      throw downloadError(
        url,
        `${(lastError as Error).message}; ${have} bytes kept, run again to resume`,
        lastError,
      );
    }
    if (expected.sha256) {
      const actual = await sha256File(part);
      if (actual !== expected.sha256) {
        await rm(part, { force: true });
        throw downloadError(
          url,
          `sha256 mismatch (expected ${expected.sha256}, got ${actual}); the partial file was removed`,
        );
      }
    }
    await rename(part, dest);
    return dest;
  });
}

/**
 * Download what an ONNX embedder needs (files already cached are not fetched) and return the folder.
 * `optional` files are fetched when the repo has them (a 404 is not an error).
 */
export async function downloadModel(
  repo: string,
  files: string[],
  opts: HubOptions = {},
  optional: string[] = [],
): Promise<string> {
  for (const f of files) await downloadFile(repo, f, opts);
  for (const f of optional) {
    await downloadFile(repo, f, opts).catch((e: unknown) => {
      if (!(e instanceof QuiverError && /HTTP 404/.test(e.message))) throw e;
    });
  }
  return modelCacheDir(repo, opts.revision ?? 'main', opts);
}
