/**
 * Opening and saving the embedded ANN index file of a vector field. A file is served only when it
 * opens cleanly and reflects exactly the vector watermark the store records; anything else (missing,
 * torn, stale, other parameters) yields a fresh empty index that the caller rebuilds from the store.
 */
import { isQuiverError } from '../errors.js';
import type { VectorIndex, VectorMetric } from '../index/vector/vector-index.js';
import type { Quantization } from '../index/vector/usearch.js';
import { UsearchVectorIndex } from '../index/vector/usearch.js';
import type { StoredVector } from '../store/store.js';

export interface OpenVectorIndexOptions {
  dims: number;
  metric: VectorMetric;
  quantization: Quantization;
  getVectors?: (keys: number[]) => Promise<StoredVector[]>;
  expectWatermark: number;
}

export async function openVectorIndex(
  path: string,
  opts: OpenVectorIndexOptions,
): Promise<{ index: VectorIndex; fresh: boolean }> {
  const params = { dims: opts.dims, metric: opts.metric, quantization: opts.quantization };
  try {
    const { index, watermark } = await UsearchVectorIndex.open(path, params);
    if (watermark === opts.expectWatermark) return { index, fresh: true };
  } catch (e) {
    // Only a damaged or outdated file is rebuilt; a bad configuration (e.g. i8 with l2) must surface.
    if (!isQuiverError(e) || e.code !== 'INDEX_CORRUPT') throw e;
  }
  return { index: new UsearchVectorIndex(params), fresh: false };
}

export async function saveVectorIndex(index: VectorIndex, path: string, watermark: number): Promise<void> {
  if (index instanceof UsearchVectorIndex) await index.save(path, watermark);
}
