/**
 * The one factory the engine calls for a learned-sparse field: a SparseFieldConfig → a ready
 * SparseEncoder.
 *   model 'user'           no encoder: the user supplies vectors (UserSparseVectorsError)
 *   url                    remote TEI-style /embed_sparse (modelDir, if given, is the tokenizer folder)
 *   modelDir               local ONNX from that folder
 *   a known model name     local ONNX downloaded from the hub into the cache
 */
import { QuiverError } from '../../errors.js';
import type { SparseFieldConfig } from '../../types.js';
import type { HubOptions } from '../hub.js';
import { downloadModel } from '../hub.js';
import { OnnxSparseEncoder } from './onnx-sparse-encoder.js';
import { RemoteSparseEncoder } from './remote-sparse-encoder.js';
import { findSparseModelSpec, listSparseModels } from './sparse-registry.js';

export type { SparseEncoder, SparseVector, SparseEncodeStats } from './sparse-encoder.js';
export { DEFAULT_DOCUMENT_TOP_K, OnnxSparseEncoder, idWeightsToVector } from './onnx-sparse-encoder.js';
export type { IdWeights, OnnxSparseOptions } from './onnx-sparse-encoder.js';
export { RemoteSparseEncoder } from './remote-sparse-encoder.js';
export type { RemoteSparseOptions } from './remote-sparse-encoder.js';
export { dotSparse, pruneTopK, sortedEntries, sparseSize, spladePool } from './sparse-math.js';
export { findSparseModelSpec, listSparseModels, registerSparseModel } from './sparse-registry.js';
export type { SparseModelSpec } from './sparse-registry.js';

/** The model name of a field whose vectors the user supplies with documents and queries. */
export const USER_SPARSE_MODEL = 'user';

/** Whether a field's vectors come from the user rather than an encoder. */
export function isUserSparseModel(cfg: Pick<SparseFieldConfig, 'model'>): boolean {
  return cfg.model === USER_SPARSE_MODEL;
}

/** Raised when an encoder is asked for a field whose vectors are user-supplied. */
export class UserSparseVectorsError extends QuiverError {
  constructor(field: string) {
    super(
      'INVALID_CONFIG',
      `sparse field "${field}" has model "user": its vectors are supplied with each document and query, so it has no encoder`,
      { location: { field: `sparse.${field}.model` }, details: { userVectors: true } },
    );
  }
}

export interface CreateSparseEncoderOptions {
  /** Where downloaded models live (default $QUIVER_CACHE or ~/.cache/quiver). */
  cacheDir?: string;
  /** Hub endpoint, revision, token, timeouts (tests point this at a loopback hub). */
  hub?: HubOptions;
  threads?: number;
  batchSize?: number;
  /** Query-side top-k (default: every term). */
  queryTopK?: number;
  /** Remote endpoint key (default $QUIVER_REMOTE_KEY). */
  apiKey?: string;
  remote?: { timeoutMs?: number; retries?: number; concurrency?: number; batchSize?: number };
}

export async function createSparseEncoder(
  cfg: SparseFieldConfig,
  opts: CreateSparseEncoderOptions = {},
): Promise<OnnxSparseEncoder | RemoteSparseEncoder> {
  if (isUserSparseModel(cfg)) throw new UserSparseVectorsError(cfg.name);
  const field = (f: string) => `sparse.${cfg.name}.${f}`;
  if (typeof cfg.model !== 'string' || !cfg.model.trim()) {
    throw new QuiverError('INVALID_CONFIG', `sparse field "${cfg.name}" needs a model`, {
      location: { field: field('model') },
    });
  }
  for (const key of ['topK', 'queryTopK'] as const) {
    const k = cfg[key];
    if (k !== undefined && !(Number.isInteger(k) && k >= 0)) {
      throw new QuiverError('INVALID_CONFIG', `${key} must be a non-negative integer (0 keeps every term)`, {
        location: { field: field(key) },
      });
    }
  }
  const spec = findSparseModelSpec(cfg.model);
  const queryTopK = opts.queryTopK ?? cfg.queryTopK;
  const topKs = {
    ...(cfg.topK !== undefined ? { topK: cfg.topK } : {}),
    ...(queryTopK !== undefined ? { queryTopK } : {}),
  };

  if (cfg.url) {
    const apiKey = opts.apiKey ?? process.env.QUIVER_REMOTE_KEY;
    return new RemoteSparseEncoder({
      url: cfg.url,
      model: spec?.name ?? cfg.model,
      ...topKs,
      ...(apiKey ? { apiKey } : {}),
      ...(cfg.modelDir ? { tokenizerDir: cfg.modelDir } : {}),
      ...opts.remote,
    });
  }

  const local = {
    model: spec?.name ?? cfg.model,
    maxTokens: spec?.maxTokens ?? 512,
    queryMode: spec?.queryMode ?? 'encoder',
    ...topKs,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
  } as const;
  if (cfg.modelDir) return OnnxSparseEncoder.load(cfg.modelDir, local);

  if (!spec) {
    throw new QuiverError(
      'MODEL_NOT_FOUND',
      `"${cfg.model}" is not a known sparse encoder (known: ${listSparseModels()
        .map((s) => s.name)
        .join(', ')}); give modelDir (a folder with tokenizer.json and an MLM ONNX export) or url`,
      { location: { field: field('model') } },
    );
  }
  if (!spec.hub) {
    throw new QuiverError(
      'MODEL_NOT_FOUND',
      spec.exportHint ?? `${spec.name} has no ONNX export on the hub`,
      {
        location: { field: field('modelDir') },
      },
    );
  }
  const hubOpts: HubOptions = {
    ...opts.hub,
    revision: opts.hub?.revision ?? spec.hub.revision ?? 'main',
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
  };
  const dir = await downloadModel(spec.hub.repo, ['tokenizer.json', spec.hub.file], hubOpts, [
    'tokenizer_config.json',
  ]);
  return OnnxSparseEncoder.load(dir, { ...local, modelFile: spec.hub.file });
}
