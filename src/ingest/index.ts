/**
 * Ingest: read a source, batch its documents into atomic writes, report every bad record.
 */
import type { QuiverError } from '../errors.js';
import type { QuiverDocument } from '../types.js';
import type { IngestItem } from './sources.js';

export {
  htmlToDoc,
  markdownTitle,
  openSource,
  readLines,
  toDocument,
  MAX_JSON_ARRAY_BYTES,
} from './sources.js';
export type { FieldMapping, IngestItem, SourceSpec } from './sources.js';
export { chunkDocument, splitSentences } from './chunker.js';
export { createProgress } from './progress.js';
export type { Progress, ProgressOptions } from './progress.js';

export interface IngestSink {
  upsert(docs: QuiverDocument[]): Promise<unknown>;
}

export interface IngestOptions {
  batchSize?: number;
  /** skip: report and go on; reject: stop at the first bad record (earlier batches stay). */
  onError?: 'skip' | 'reject';
  /**
   * Called after each acknowledged batch with the running totals (cumulative, not per batch) of
   * documents written and of bad records skipped so far.
   */
  onProgress?: (added: number, skipped: number) => void;
}

export interface IngestResult {
  added: number;
  skipped: number;
  problems: QuiverError[];
  /** True when 'reject' stopped the ingest. */
  stopped: boolean;
}

export async function ingestInto(
  sink: IngestSink,
  source: AsyncIterable<IngestItem>,
  opts: IngestOptions = {},
): Promise<IngestResult> {
  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const problems: QuiverError[] = [];
  let batch: QuiverDocument[] = [];
  let added = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const docs = batch;
    batch = [];
    await sink.upsert(docs);
    added += docs.length;
    opts.onProgress?.(added, problems.length);
  };
  for await (const item of source) {
    if (!item.ok) {
      problems.push(item.error);
      if (opts.onError === 'reject') {
        // Write what came before the bad record: it was valid and the user may resume after fixing.
        await flush();
        return { added, skipped: problems.length, problems, stopped: true };
      }
      continue;
    }
    batch.push(item.doc);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return { added, skipped: problems.length, problems, stopped: false };
}
