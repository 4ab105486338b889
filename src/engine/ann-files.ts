/**
 * Opening and saving the embedded ANN index file of a vector field. A file is served only when it
 * opens cleanly and reflects exactly the vector watermark the store records; anything else (missing,
 * torn, stale, other parameters) yields a fresh empty index that the caller rebuilds from the store.
 *
 * The index's exact f32 copies (rescoring, filtered exact search) spill to a scratch file in
 * `spillDir` once a field holds more than `residentMax` vectors, so a large i8 field keeps about a
 * quarter of an f32 field's memory; below that the copies stay in memory, where small collections
 * are searched exactly without touching the disk.
 */
import { isQuiverError } from '../errors.js';
import type { VectorIndex, VectorMetric } from '../index/vector/vector-index.js';
import type { Quantization } from '../index/vector/usearch.js';
import { UsearchVectorIndex } from '../index/vector/usearch.js';

export interface OpenVectorIndexOptions {
  dims: number;
  metric: VectorMetric;
  quantization: Quantization;
  /** Directory for the scratch file of spilled f32 copies (the index file's directory). */
  spillDir: string;
  /** Vectors held in memory before the copies spill (default 20,000, the exact-search threshold). */
  residentMax?: number;
  expectWatermark: number;
}

export async function openVectorIndex(
  path: string,
  opts: OpenVectorIndexOptions,
): Promise<{ index: VectorIndex; fresh: boolean }> {
  const params = {
    dims: opts.dims,
    metric: opts.metric,
    quantization: opts.quantization,
    spill: {
      dir: opts.spillDir,
      ...(opts.residentMax !== undefined ? { residentMax: opts.residentMax } : {}),
    },
  };
  try {
    const { index, watermark } = await UsearchVectorIndex.open(path, params);
    if (watermark === opts.expectWatermark) return { index, fresh: true };
    index.close();
  } catch (e) {
    // Only a damaged or outdated file is rebuilt; a bad configuration (e.g. i8 with l2) must surface.
    if (!isQuiverError(e) || e.code !== 'INDEX_CORRUPT') throw e;
  }
  return { index: new UsearchVectorIndex(params), fresh: false };
}

export async function saveVectorIndex(index: VectorIndex, path: string, watermark: number): Promise<void> {
  if (index instanceof UsearchVectorIndex) await index.save(path, watermark);
}
