/**
 * Model downloads from the Hugging Face hub into a local cache, for real users (this build machine
 * has no hub access; tests run a fake hub on loopback).
 *
 * Atomic: a file is written to `<name>.part`, fsynced, verified, then renamed — a half-downloaded
 * file is never mistaken for a model. Resumable: an existing `.part` is continued with an HTTP
 * Range request. Verified: against the sha256 the hub sends for LFS files (X-Linked-Etag / ETag),
 * else the size. A lock file keeps two processes from downloading the same file at once.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { QuiverError } from '../errors.js';

export interface HubOptions {
  endpoint?: string;
  revision?: string;
  cacheDir?: string;
  token?: string;
  /** Milliseconds before a stalled request is abandoned. */
  timeoutMs?: number;
}

export function hubEndpoint(opts: HubOptions = {}): string {
  return (
    opts.endpoint ??
    process.env.QUIVER_HF_ENDPOINT ??
    process.env.HF_ENDPOINT ??
    'https://huggingface.co'
  ).replace(/\/$/, '');
}

export function modelCacheDir(repo: string, revision: string, opts: HubOptions = {}): string {
  const root = opts.cacheDir ?? process.env.QUIVER_CACHE ?? join(homedir(), '.cache', 'quiver');
  return join(root, 'models', ...repo.split('/'), revision);
}

function offlineError(url: string, why: string, cause?: unknown): QuiverError {
  return new QuiverError('MODEL_DOWNLOAD_FAILED', `could not download ${url}: ${why}`, {
    ...(cause ? { cause } : {}),
  });
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock older than ten minutes belongs to a process that died.
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 10 * 60_000) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw offlineError(path, 'another process holds the download lock');
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Download one file of a repo (if not cached) and return its local path. */
export async function downloadFile(repo: string, file: string, opts: HubOptions = {}): Promise<string> {
  const revision = opts.revision ?? 'main';
  const dir = modelCacheDir(repo, revision, opts);
  const dest = join(dir, file);
  if (existsSync(dest)) return dest;
  await mkdir(dirname(dest), { recursive: true });
  const url = `${hubEndpoint(opts)}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
  return withLock(dest, async () => {
    if (existsSync(dest)) return dest;
    const part = `${dest}.part`;
    const have = existsSync(part) ? (await stat(part)).size : 0;
    const headers: Record<string, string> = { 'user-agent': 'quiver' };
    const token = opts.token ?? process.env.HF_TOKEN;
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (have > 0) headers['range'] = `bytes=${have}-`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers,
        redirect: 'follow',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
      });
    } catch (e) {
      throw offlineError(url, `${(e as Error).message} (offline?)`, e);
    }
    if (res.status === 404) throw offlineError(url, 'not found (404) — check the model name and revision');
    if (res.status === 401 || res.status === 403)
      throw offlineError(url, `access denied (${res.status}) — set HF_TOKEN for gated models`);
    if (!res.ok || !res.body) throw offlineError(url, `HTTP ${res.status}`);
    const expectedSha = [res.headers.get('x-linked-etag'), res.headers.get('etag')]
      .map((h) => h?.replace(/^W\//, '').replace(/"/g, ''))
      .find((h) => h && /^[0-9a-f]{64}$/.test(h));
    const resumed = res.status === 206;
    const lengthHeader = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
    const expectedSize = resumed ? have + Number(res.headers.get('content-length') ?? NaN) : lengthHeader;
    const fh = await open(part, resumed ? 'a' : 'w');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await fh.write(chunk);
      await fh.sync();
    } catch (e) {
      throw offlineError(
        url,
        `connection lost after ${(await stat(part)).size} bytes; run again to resume`,
        e,
      );
    } finally {
      await fh.close();
    }
    const size = (await stat(part)).size;
    if (Number.isFinite(expectedSize) && size !== expectedSize) {
      throw offlineError(url, `got ${size} of ${expectedSize} bytes; run again to resume`);
    }
    if (expectedSha) {
      const actual = await sha256File(part);
      if (actual !== expectedSha) {
        await rm(part, { force: true });
        throw offlineError(
          url,
          `sha256 mismatch (expected ${expectedSha}, got ${actual}); the partial file was removed`,
        );
      }
    }
    await rename(part, dest);
    return dest;
  });
}

/** Download what an ONNX embedder needs and return the folder. */
export async function downloadModel(repo: string, files: string[], opts: HubOptions = {}): Promise<string> {
  const revision = opts.revision ?? 'main';
  for (const f of files) await downloadFile(repo, f, opts);
  const dir = modelCacheDir(repo, revision, opts);
  await writeFile(join(dir, '.complete'), new Date().toISOString());
  return dir;
}
