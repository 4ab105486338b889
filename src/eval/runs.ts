/**
 * A log of evaluation runs (what was measured, how, and the numbers), appended as JSONL in the
 * data directory so the web UI can chart them. A torn last line (a crash mid-append) is ignored.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonValue } from '../types.js';

export interface EvalRunRecord {
  id: string;
  createdAt: string;
  dataset: string;
  split: string;
  mode: string;
  method?: string;
  store: string;
  metrics: Record<string, number>;
  queries: number;
  config?: JsonValue;
}

export class EvalRunLog {
  readonly path: string;

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, 'eval-runs.jsonl');
  }

  async append(run: EvalRunRecord): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await appendFile(this.path, `${JSON.stringify(run)}\n`, { flush: true });
  }

  async list(): Promise<EvalRunRecord[]> {
    if (!existsSync(this.path)) return [];
    const out: EvalRunRecord[] = [];
    for (const line of (await readFile(this.path, 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as EvalRunRecord);
      } catch {
        // torn line from an interrupted append: skip it
      }
    }
    return out;
  }
}
