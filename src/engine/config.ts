/**
 * Collection configuration: defaults, deep merge of user overrides, validation with the field
 * that was wrong. A collection's config is data (one typed, versioned object stored with it).
 */
import { QuiverError } from '../errors.js';
import { DEFAULT_FUSION } from '../fuse/defaults.js';
import type { CollectionConfig, SparseFieldConfig, VectorFieldConfig } from '../types.js';
import { DEFAULT_COLLECTION_CONFIG } from '../types.js';

/** A recursive Partial, for user-supplied overrides. */
export type DeepPartial<T> = T extends (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge<T>(base: T, over: unknown): T {
  if (!isObject(base) || !isObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = merge((base as Record<string, unknown>)[k], v);
  }
  return out as T;
}

function fail(field: string, message: string): never {
  throw new QuiverError('INVALID_CONFIG', message, { location: { field } });
}

export function defaultConfig(): CollectionConfig {
  return structuredClone({ ...DEFAULT_COLLECTION_CONFIG, fusion: DEFAULT_FUSION });
}

/** Defaults ← overrides, then validated. */
export function resolveConfig(overrides: DeepPartial<CollectionConfig> = {}): CollectionConfig {
  const config = merge(defaultConfig(), overrides);
  validateConfig(config);
  return config;
}

export function validateConfig(c: CollectionConfig): void {
  if (c.version !== 1) fail('version', `unsupported config version ${String(c.version)}`);
  if (typeof c.analyzer?.language !== 'string')
    fail('analyzer.language', 'analyzer.language must be a string');
  const { k1, b } = c.bm25;
  if (!(typeof k1 === 'number' && k1 >= 0 && k1 <= 10))
    fail('bm25.k1', 'bm25.k1 must be a number in [0, 10]');
  if (!(typeof b === 'number' && b >= 0 && b <= 1)) fail('bm25.b', 'bm25.b must be a number in [0, 1]');
  if (c.bm25.fields) {
    for (const f of ['title', 'text'] as const) {
      const w = c.bm25.fields[f];
      if (!(typeof w === 'number' && w >= 0))
        fail(`bm25.fields.${f}`, 'field weights must be non-negative numbers');
    }
  }
  const { maxChars, overlapSentences } = c.chunking;
  if (!(Number.isInteger(maxChars) && maxChars >= 0))
    fail('chunking.maxChars', 'chunking.maxChars must be a non-negative integer (0 = no chunking)');
  if (maxChars > 0 && maxChars < 100)
    fail('chunking.maxChars', 'chunking.maxChars must be 0 or at least 100');
  if (!(Number.isInteger(overlapSentences) && overlapSentences >= 0 && overlapSentences <= 10))
    fail('chunking.overlapSentences', 'chunking.overlapSentences must be an integer in [0, 10]');
  if (!Array.isArray(c.vectors)) fail('vectors', 'vectors must be an array of vector fields');
  const names = new Set<string>();
  c.vectors.forEach((v: VectorFieldConfig, i) => {
    const at = `vectors[${i}]`;
    if (!isObject(v)) fail(at, 'a vector field must be an object');
    if (typeof v.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(v.name))
      fail(`${at}.name`, 'vector field names are 1–64 letters, digits, _ or -');
    if (names.has(v.name)) fail(`${at}.name`, `duplicate vector field "${v.name}"`);
    names.add(v.name);
    if (typeof v.model !== 'string' || v.model.length === 0)
      fail(`${at}.model`, 'model must be a registry name');
    if (v.metric && !['cos', 'ip', 'l2'].includes(v.metric))
      fail(`${at}.metric`, 'metric must be cos, ip or l2');
    if (v.quantization && !['f32', 'f16', 'i8', 'b1'].includes(v.quantization))
      fail(`${at}.quantization`, 'quantization must be f32, f16, i8 or b1');
    if (v.source && !['text', 'title', 'body', 'image'].includes(v.source))
      fail(`${at}.source`, 'source must be text, title, body or image');
  });
  validateSparseFields(c, names);
  const m = c.fusion.method;
  if (m && !['rrf', 'convex', 'dbsf'].includes(m))
    fail('fusion.method', 'fusion.method must be rrf, convex or dbsf');
}

/** Sparse fields: unique names (also against vector fields), a model ("user" or an encoder), sane options. */
function validateSparseFields(c: CollectionConfig, vectorNames: Set<string>): void {
  if (c.sparse === undefined) return;
  if (!Array.isArray(c.sparse)) fail('sparse', 'sparse must be an array of sparse fields');
  const names = new Set<string>();
  c.sparse.forEach((f: SparseFieldConfig, i) => {
    const at = `sparse[${i}]`;
    if (!isObject(f)) fail(at, 'a sparse field must be an object');
    if (typeof f.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(f.name))
      fail(`${at}.name`, 'sparse field names are 1–64 letters, digits, _ or -');
    if (names.has(f.name)) fail(`${at}.name`, `duplicate sparse field "${f.name}"`);
    if (vectorNames.has(f.name))
      fail(`${at}.name`, `"${f.name}" is already a vector field; give the sparse field another name`);
    names.add(f.name);
    if (typeof f.model !== 'string' || f.model.trim().length === 0)
      fail(
        `${at}.model`,
        'model must be "user" (vectors supplied with documents and queries) or a sparse encoder',
      );
    if (f.modelDir !== undefined && (typeof f.modelDir !== 'string' || f.modelDir.length === 0))
      fail(`${at}.modelDir`, 'modelDir must be a folder path');
    if (f.url !== undefined && (typeof f.url !== 'string' || !/^https?:\/\//.test(f.url)))
      fail(`${at}.url`, 'url must be an http(s) URL');
    if (f.model === 'user' && (f.modelDir !== undefined || f.url !== undefined))
      fail(`${at}.model`, 'a field with model "user" has no encoder: drop modelDir/url, or name the model');
    if (f.source !== undefined && !['text', 'title', 'body'].includes(f.source))
      fail(`${at}.source`, 'source must be text, title or body');
    for (const opt of ['topK', 'queryTopK'] as const) {
      const v = (f as SparseFieldConfig & { queryTopK?: unknown })[opt];
      if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100_000))
        fail(`${at}.${opt}`, `${opt} must be an integer in [0, 100000] (0 keeps every term)`);
    }
  });
}

/** A sparse field from a CLI-style spec: "name" or "name=user" (user vectors), "name=<model or folder>". */
export function sparseField(
  spec: string,
  looksLikeDir: (s: string) => boolean = () => false,
): SparseFieldConfig {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? spec : spec.slice(0, eq);
  const model = eq < 0 ? 'user' : spec.slice(eq + 1);
  if (model === 'user') return { name, model: 'user' };
  if (/^https?:\/\//.test(model)) return { name, model: 'remote', url: model };
  if (looksLikeDir(model))
    return { name, model: model.split(/[\\/]/).filter(Boolean).pop() ?? 'local', modelDir: model };
  return { name, model };
}

/** A default vector field for a model name: `quiver init --model static:glove-100`. */
export function vectorField(
  model: string,
  name = 'dense',
  extra: Partial<VectorFieldConfig> = {},
): VectorFieldConfig {
  return { name, model, source: 'text', metric: 'cos', quantization: 'f32', ...extra };
}
