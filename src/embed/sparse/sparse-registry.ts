/**
 * Known learned-sparse (SPLADE-style) encoders: their maximum input length, whether queries go
 * through the model, and where an ONNX export of them lives on the Hugging Face hub.
 *
 * Where the ONNX files are (from the repositories' hub file listings, as of this writing):
 * - prithivida/Splade_PP_en_v1 ships `model.onnx` at the repository root (an MLM export whose output
 *   is the [batch, seq, vocab] logits; the same file is mirrored as Qdrant/Splade_PP_en_v1, which is
 *   what fastembed downloads), next to tokenizer.json.
 * - naver/splade-cocondenser-ensembledistil, naver/splade-cocondenser-selfdistil and naver/splade-v3
 *   ship PyTorch weights only (splade-v3 is also gated behind a licence agreement), so they are
 *   listed without a hub ONNX file and loading them by name explains how to export one.
 */
import { QuiverError } from '../../errors.js';

export interface SparseModelSpec {
  name: string;
  aliases?: string[];
  /** Tokens per input, special tokens included; longer inputs are truncated (and counted). */
  maxTokens: number;
  /**
   * 'encoder': queries are encoded by the model, like documents (SPLADE, SPLADE++).
   * 'tokens': inference-free queries — a query is its own vocabulary tokens, weighted by the
   * model folder's idf.json when it has one, else 1 each (as the inference-free SPLADE variants).
   */
  queryMode: 'encoder' | 'tokens';
  /** Where the ONNX export lives; absent when the model's repository publishes none. */
  hub?: { repo: string; revision?: string; file: string };
  /** Said to the user when the model has no hub ONNX. */
  exportHint?: string;
  license?: string;
}

const EXPORT = (repo: string) =>
  `${repo} publishes no ONNX export on the Hugging Face hub. Export it once with ` +
  `\`optimum-cli export onnx --model ${repo} --task fill-mask <folder>\` and set modelDir to that folder, ` +
  `or serve it with text-embeddings-inference and set url`;

const BUILT_IN: SparseModelSpec[] = [
  {
    name: 'prithivida/Splade_PP_en_v1',
    aliases: ['Splade_PP_en_v1', 'splade-pp-en-v1', 'Qdrant/Splade_PP_en_v1'],
    maxTokens: 512,
    queryMode: 'encoder',
    hub: { repo: 'prithivida/Splade_PP_en_v1', revision: 'main', file: 'model.onnx' },
    license: 'apache-2.0',
  },
  {
    name: 'naver/splade-cocondenser-ensembledistil',
    aliases: ['splade-cocondenser-ensembledistil', 'splade++-ed'],
    maxTokens: 512,
    queryMode: 'encoder',
    exportHint: EXPORT('naver/splade-cocondenser-ensembledistil'),
    license: 'cc-by-nc-sa-4.0',
  },
  {
    name: 'naver/splade-cocondenser-selfdistil',
    aliases: ['splade-cocondenser-selfdistil', 'splade++-sd'],
    maxTokens: 512,
    queryMode: 'encoder',
    exportHint: EXPORT('naver/splade-cocondenser-selfdistil'),
    license: 'cc-by-nc-sa-4.0',
  },
  {
    name: 'naver/splade-v3',
    aliases: ['splade-v3'],
    maxTokens: 512,
    queryMode: 'encoder',
    exportHint: `${EXPORT('naver/splade-v3')} (the repository is gated: accept its licence on the hub first)`,
    license: 'cc-by-nc-sa-4.0',
  },
];

const specs = new Map<string, SparseModelSpec>();
const names = new Map<string, string>();

function add(spec: SparseModelSpec): void {
  specs.set(spec.name, spec);
  names.set(spec.name.toLowerCase(), spec.name);
  for (const a of spec.aliases ?? []) names.set(a.toLowerCase(), spec.name);
}
BUILT_IN.forEach(add);

/** The spec for a name or alias, or undefined (a model folder of any other MLM still works). */
export function findSparseModelSpec(name: string): SparseModelSpec | undefined {
  const canonical = names.get(name.toLowerCase());
  return canonical ? specs.get(canonical) : undefined;
}

export function listSparseModels(): SparseModelSpec[] {
  return [...specs.values()];
}

/** Add or replace a sparse model spec (e.g. an inference-free model with queryMode 'tokens'). */
export function registerSparseModel(spec: SparseModelSpec): SparseModelSpec {
  const bad = (field: string, why: string): never => {
    throw new QuiverError(
      'INVALID_CONFIG',
      `sparse model spec ${JSON.stringify(spec?.name ?? '?')}: ${why}`,
      {
        location: { field: `sparseModel.${field}` },
      },
    );
  };
  if (!spec || typeof spec.name !== 'string' || !spec.name.trim()) bad('name', 'needs a non-empty name');
  if (!Number.isInteger(spec.maxTokens) || spec.maxTokens < 2) bad('maxTokens', 'must be an integer >= 2');
  if (spec.queryMode !== 'encoder' && spec.queryMode !== 'tokens')
    bad('queryMode', "must be 'encoder' or 'tokens'");
  if (spec.hub && (!/^[\w.-]+\/[\w.-]+$/.test(spec.hub.repo) || !spec.hub.file))
    bad('hub', 'hub needs repo "owner/name" and the ONNX file path');
  for (const a of spec.aliases ?? []) {
    const owner = names.get(a.toLowerCase());
    if (owner && owner !== spec.name) bad('aliases', `alias "${a}" already names ${owner}`);
  }
  add(spec);
  return spec;
}
