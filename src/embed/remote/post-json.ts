/**
 * One JSON POST to an inference server, with the retry policy every remote provider shares:
 * retries with exponential backoff + jitter on 429, 5xx and network errors (honouring Retry-After),
 * a per-attempt timeout, and typed errors (REMOTE_ERROR with the status and a body excerpt,
 * TIMEOUT). Other 4xx answers are the caller's mistake and are not retried.
 */
import { QuiverError } from '../../errors.js';

export interface PostJsonOptions {
  apiKey?: string;
  /** Attempts after the first (default 4). */
  retries?: number;
  /** Per attempt, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry-After is either delay-seconds or an HTTP date; capped so a server cannot stall us. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), 30_000) : undefined;
}

/** POST `body` as JSON to `url` and return the parsed JSON answer. */
export async function postJsonWithRetries(
  url: string,
  body: unknown,
  opts: PostJsonOptions = {},
): Promise<unknown> {
  const retries = opts.retries ?? 4;
  const payload = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers['authorization'] = `Bearer ${opts.apiKey}`;
  let lastError: QuiverError | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      const base = Math.min(8000, 200 * 2 ** (attempt - 1));
      const wait = lastError?.details?.['retryAfterMs'] as number | undefined;
      await sleep(wait ?? base / 2 + Math.random() * base);
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: payload,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      const timeout = (e as Error).name === 'TimeoutError';
      lastError = new QuiverError(
        timeout ? 'TIMEOUT' : 'REMOTE_ERROR',
        `${url}: ${timeout ? 'timed out' : (e as Error).message}`,
        { cause: e },
      );
      continue;
    }
    if (res.status === 429 || res.status >= 500) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      const excerpt = (await res.text().catch(() => '')).slice(0, 200);
      lastError = new QuiverError('REMOTE_ERROR', `${url} answered ${res.status}: ${excerpt}`, {
        details: { status: res.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
      });
      continue;
    }
    const text = await res.text();
    if (!res.ok) {
      throw new QuiverError('REMOTE_ERROR', `${url} answered ${res.status}: ${text.slice(0, 300)}`, {
        details: { status: res.status },
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new QuiverError('REMOTE_ERROR', `${url} returned invalid JSON: ${text.slice(0, 200)}`);
    }
  }
  throw lastError ?? new QuiverError('REMOTE_ERROR', `${url} failed`);
}
