/**
 * A log of evaluation runs (what was measured, how, and the numbers), appended as JSONL at
 * `<dataDir>/eval-runs.jsonl` so the web UI can chart them over time.
 *
 * Durability: each record is one `write` of one line on a file opened for appending (O_APPEND, so
 * concurrent writers never interleave inside a line), followed by fsync before `append` resolves.
 * A crash mid-write can leave a torn last line; `list` ignores lines that are not complete
 * records, and the next `append` starts on a fresh line so the torn bytes never swallow it.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QuiverError } from '../errors.js';
import type { JsonValue } from '../types.js';

export interface EvalRunRecord {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  dataset: string;
  split: string;
  /** lexical | dense | hybrid | … */
  mode: string;
  /** e.g. "bm25", "static:glove-100", "e5-small-v2 + bm25 (dbsf)". */
  method?: string;
  store: string;
  metrics: Record<string, number>;
  queries: number;
  config?: JsonValue;
}

function isRecord(v: unknown): v is EvalRunRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r['id'] === 'string' &&
    typeof r['createdAt'] === 'string' &&
    typeof r['dataset'] === 'string' &&
    typeof r['split'] === 'string' &&
    typeof r['mode'] === 'string' &&
    typeof r['store'] === 'string' &&
    typeof r['queries'] === 'number' &&
    typeof r['metrics'] === 'object' &&
    r['metrics'] !== null
  );
}

export class EvalRunLog {
  readonly path: string;

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, 'eval-runs.jsonl');
  }

  async append(run: EvalRunRecord): Promise<void> {
    if (!isRecord(run)) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        'an evaluation run needs id, createdAt, dataset, split, mode, store, metrics and queries',
        {
          location: { field: 'run' },
        },
      );
    }
    for (const [k, v] of Object.entries(run.metrics)) {
      if (!Number.isFinite(v)) {
        throw new QuiverError('INVALID_ARGUMENT', `metric ${k} is ${String(v)}; JSON cannot hold it`, {
          location: { field: `metrics.${k}` },
        });
      }
    }
    await mkdir(this.dataDir, { recursive: true });
    const fh = await open(this.path, 'a+');
    try {
      // If a previous append was torn (no final newline), start on a new line.
      const { size } = await fh.stat();
      let sep = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) sep = '\n';
      }
      await fh.write(`${sep}${JSON.stringify(run)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** All complete records, oldest first. */
  async list(): Promise<EvalRunRecord[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: EvalRunRecord[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const v: unknown = JSON.parse(line);
        if (isRecord(v)) out.push(v);
      } catch {
        // a torn line from an interrupted append: not a record
      }
    }
    return out;
  }
}
