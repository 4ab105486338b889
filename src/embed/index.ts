/**
 * The one factory every stage calls: a registry name (or alias) → a ready Embedder.
 *   static:*            word vectors (offline)
 *   remote specs, or any spec with `remote` options → OpenAI-compatible endpoint
 *   everything else     local ONNX, from `modelDir` or downloaded from the hub into the cache
 */
import { existsSync } from 'node:fs';
import { QuiverError } from '../errors.js';
import type { Embedder } from './embedder.js';
import { downloadModel } from './hub.js';
import { OnnxEmbedder } from './onnx/onnx-embedder.js';
import { getModelSpec } from './registry.js';
import { RemoteEmbedder } from './remote/remote-embedder.js';
import type { RemoteOptions } from './remote/remote-embedder.js';

export * from './registry.js';
export type { Embedder, EmbedOptions, EmbedRole, EmbedExplain, FittableEmbedder } from './embedder.js';
export { isFittable } from './embedder.js';
export { withCache } from './cache.js';
export type { CachedEmbedder, CacheStats } from './cache.js';

export interface CreateEmbedderOptions {
  modelDir?: string;
  /** Where downloaded models (and the embedding cache) live. */
  cacheDir?: string;
  variant?: 'fp32' | 'int8';
  threads?: number;
  /** onnxruntime pool threads spin between operators (default off; see OnnxOptions.spinWait). */
  spinWait?: boolean;
  batchSize?: number;
  remote?: RemoteOptions;
  /** For static:file. */
  vectorsPath?: string;
}

/** Remote endpoints can be configured by environment, per model: QUIVER_REMOTE_URL / _KEY. */
function remoteFromEnv(): RemoteOptions | undefined {
  const baseUrl = process.env.QUIVER_REMOTE_URL;
  if (!baseUrl) return undefined;
  return { baseUrl, ...(process.env.QUIVER_REMOTE_KEY ? { apiKey: process.env.QUIVER_REMOTE_KEY } : {}) };
}

export async function createEmbedder(model: string, opts: CreateEmbedderOptions = {}): Promise<Embedder> {
  if (model.startsWith('static:') || model === 'glove-100') {
    const { createStaticEmbedder } = await import('./static/index.js');
    return createStaticEmbedder(model, opts.vectorsPath ? { vectorsPath: opts.vectorsPath } : {});
  }
  const spec = getModelSpec(model);
  const remote = opts.remote ?? (spec.provider === 'remote' ? remoteFromEnv() : undefined);
  if (remote) return new RemoteEmbedder(spec, remote);
  if (spec.provider === 'remote') {
    throw new QuiverError(
      'INVALID_CONFIG',
      `${spec.name} is served remotely: give an OpenAI-compatible endpoint (QUIVER_REMOTE_URL, or remote.baseUrl) such as vLLM or TEI`,
      { location: { field: 'model' } },
    );
  }
  if (spec.provider === 'clip') {
    const { ClipEmbedder } = await import('./image/clip-embedder.js');
    let clipDir = opts.modelDir;
    if (!clipDir) {
      if (!spec.hub)
        throw new QuiverError(
          'INVALID_CONFIG',
          `${spec.name} has no hub location; pass --model-dir <folder>`,
          { location: { field: 'modelDir' } },
        );
      clipDir = await downloadModel(
        spec.hub.repo,
        ['tokenizer.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx'],
        { revision: spec.hub.revision ?? 'main', ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}) },
        ['tokenizer_config.json'],
      );
    }
    return ClipEmbedder.load(spec, clipDir);
  }
  const variant = opts.variant ?? 'fp32';
  let dir = opts.modelDir;
  if (!dir) {
    if (!spec.hub) {
      throw new QuiverError('INVALID_CONFIG', `${spec.name} has no hub location; pass --model-dir <folder>`, {
        location: { field: 'modelDir' },
      });
    }
    const revision = spec.hub.revision ?? 'main';
    const file =
      spec.hub.files?.[variant] ?? (variant === 'int8' ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx');
    // Cached files are not fetched again, so this is offline once a model is in the cache.
    dir = await downloadModel(
      spec.hub.repo,
      ['tokenizer.json', 'config.json', file],
      { revision, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}) },
      ['tokenizer_config.json'],
    );
  } else if (!existsSync(dir)) {
    throw new QuiverError('FILE_NOT_FOUND', `model folder ${dir} does not exist`, {
      location: { field: 'modelDir', file: dir },
    });
  }
  return OnnxEmbedder.load(spec, dir, {
    variant,
    ...(opts.threads ? { threads: opts.threads } : {}),
    ...(opts.spinWait !== undefined ? { spinWait: opts.spinWait } : {}),
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
  });
}
