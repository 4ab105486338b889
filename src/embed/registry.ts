/**
 * The model registry: each model family's exact conventions, so users pick a model by name and
 * never write a prefix by hand. `formatInput` is the single place prompts are built.
 * Sources: ../shared/docs/ANCHORS.md (mteb's model implementations and the model cards).
 */
import { QuiverError } from '../errors.js';
import type { EmbedOptions } from './embedder.js';

export type Pooling = 'mean' | 'cls' | 'last';
export type Provider = 'onnx' | 'remote' | 'static' | 'clip';
const POOLINGS: readonly Pooling[] = ['mean', 'cls', 'last'];
const PROVIDERS: readonly Provider[] = ['onnx', 'remote', 'static', 'clip'];

export interface ModelSpec {
  name: string;
  aliases?: string[];
  family: string;
  provider: Provider;
  dims: number;
  maxTokens: number;
  pooling: Pooling;
  normalize: boolean;
  /** Plain prefixes per role (E5: "query: " / "passage: "). */
  prefixes?: { query?: string; document?: string; symmetric?: string };
  /** Instruct models: template with {task} and {text}. */
  instructionTemplate?: string;
  /** Whether the instruction is applied to documents too (E5-instruct: no). */
  instructDocuments?: boolean;
  /** Symmetric tasks put the instruction on both sides (as MTEB does for STS). */
  instructSymmetric?: boolean;
  /** Append the EOS token before last-token pooling (e5-mistral). */
  addEos?: boolean;
  defaultTask?: string;
  /** Hugging Face repo, revision and ONNX file per variant. */
  hub?: { repo: string; revision?: string; files?: { fp32?: string; int8?: string } };
  modalities?: ('text' | 'image')[];
  /** Dimensions a Matryoshka model supports truncating to. */
  matryoshka?: number[];
  /**
   * E5-V: prompts for text and images. `text` (with {text}) and `image` are the full strings the
   * model sees after its BOS token. Images travel in a chat-style request (vLLM's multimodal
   * `/v1/embeddings`): `imageMessage` is the user message's text part beside the image, and
   * `chatTemplate` the Jinja template that renders that one-message conversation into
   * BOS + `image` (vLLM renders with it when given in the request, or with `--chat-template`).
   */
  prompts?: { text?: string; image?: string; imageMessage?: string; chatTemplate?: string };
}

/** MTEB task instructions (mteb task files, prompt["query"]). */
export const TASK_INSTRUCTIONS: Record<string, string> = {
  scifact: 'Given a scientific claim, retrieve documents that support or refute the claim',
  nfcorpus: 'Given a question, retrieve relevant documents that best answer the question',
  arguana: 'Given a claim, find documents that refute the claim',
  scidocs: 'Given a scientific paper title, retrieve paper abstracts that are cited by the given paper',
  fiqa2018: 'Given a financial question, retrieve user replies that best answer the question',
  fiqa: 'Given a financial question, retrieve user replies that best answer the question',
  treccovid: 'Given a query on COVID-19, retrieve documents that answer the query',
  'trec-covid': 'Given a query on COVID-19, retrieve documents that answer the query',
  quora: 'Given a question, retrieve questions that are semantically equivalent to the given question',
  miracl: 'Given a question, retrieve Wikipedia passages that answer the question',
  sts: 'Retrieve semantically similar text.',
  stsbenchmark: 'Retrieve semantically similar text.',
  'sick-r': 'Retrieve semantically similar text.',
  'web-search': 'Given a web search query, retrieve relevant passages that answer the query',
};

const E5_PREFIXES = { query: 'query: ', document: 'passage: ', symmetric: 'query: ' };
const INSTRUCT = 'Instruct: {task}\nQuery: {text}';
const WEB_SEARCH = TASK_INSTRUCTIONS['web-search']!;

function e5(name: string, dims: number, multilingual = false): ModelSpec {
  const short = name.split('/')[1]!;
  return {
    name,
    aliases: [short],
    family: multilingual ? 'multilingual-e5' : 'e5-v2',
    provider: 'onnx',
    dims,
    maxTokens: 512,
    pooling: 'mean',
    normalize: true,
    prefixes: E5_PREFIXES,
    hub: {
      repo: name,
      revision: 'main',
      files: { fp32: 'onnx/model.onnx', int8: 'onnx/model_quantized.onnx' },
    },
    modalities: ['text'],
  };
}

function bge(size: 'small' | 'base' | 'large', dims: number): ModelSpec {
  const name = `BAAI/bge-${size}-en-v1.5`;
  return {
    name,
    aliases: [`bge-${size}-en-v1.5`],
    family: 'bge-v1.5',
    provider: 'onnx',
    dims,
    maxTokens: 512,
    pooling: 'cls',
    normalize: true,
    prefixes: {
      query: 'Represent this sentence for searching relevant passages: ',
      document: '',
      symmetric: '',
    },
    hub: {
      repo: name,
      revision: 'main',
      files: { fp32: 'onnx/model.onnx', int8: 'onnx/model_quantized.onnx' },
    },
    modalities: ['text'],
  };
}

const BUILT_IN: ModelSpec[] = [
  e5('intfloat/e5-small-v2', 384),
  e5('intfloat/e5-base-v2', 768),
  e5('intfloat/e5-large-v2', 1024),
  e5('intfloat/multilingual-e5-small', 384, true),
  e5('intfloat/multilingual-e5-base', 768, true),
  e5('intfloat/multilingual-e5-large', 1024, true),
  {
    name: 'intfloat/multilingual-e5-large-instruct',
    aliases: ['multilingual-e5-large-instruct'],
    family: 'e5-instruct',
    provider: 'onnx',
    dims: 1024,
    maxTokens: 512,
    pooling: 'mean',
    normalize: true,
    instructionTemplate: INSTRUCT,
    instructDocuments: false,
    instructSymmetric: true,
    defaultTask: WEB_SEARCH,
    hub: {
      repo: 'intfloat/multilingual-e5-large-instruct',
      revision: 'main',
      files: { fp32: 'onnx/model.onnx', int8: 'onnx/model_quantized.onnx' },
    },
    modalities: ['text'],
  },
  {
    name: 'intfloat/e5-mistral-7b-instruct',
    aliases: ['e5-mistral-7b-instruct'],
    family: 'e5-instruct',
    provider: 'remote',
    dims: 4096,
    maxTokens: 4096,
    pooling: 'last',
    addEos: true,
    normalize: true,
    instructionTemplate: INSTRUCT,
    instructDocuments: false,
    instructSymmetric: true,
    defaultTask: WEB_SEARCH,
    modalities: ['text'],
  },
  {
    // E5-V (Jiang et al. 2024): one-word summarisation prompts in the LLaVA-NeXT (Llama-3) chat
    // template; the last token's hidden state is the embedding. Served remotely.
    name: 'royokong/e5-v',
    aliases: ['e5-v'],
    family: 'e5-v',
    provider: 'remote',
    dims: 4096,
    maxTokens: 4096,
    pooling: 'last',
    normalize: true,
    prompts: {
      text: '<|start_header_id|>user<|end_header_id|>\n\n{text}\nSummary above sentence in one word: <|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n',
      image:
        '<|start_header_id|>user<|end_header_id|>\n\n<image>\nSummary above image in one word: <|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n',
      // "<image>" is written out so vLLM leaves the text as is (it only prepends missing placeholders).
      imageMessage: '<image>\nSummary above image in one word: ',
      // The model card's llama3_template, which differs from Llama 3's own chat template: content
      // is not trimmed and the assistant header is followed by " \n" (no generation prompt flag).
      // The tail is a Jinja string literal because Jinja drops a template's final newline.
      chatTemplate:
        "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] }}<|eot_id|>{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n \\n' }}",
    },
    modalities: ['text', 'image'],
  },
  {
    // CLIP ViT-B/32: text and image towers in one space (ONNX exports as transformers.js lays them out).
    name: 'openai/clip-vit-base-patch32',
    aliases: ['clip-vit-base-patch32', 'clip'],
    family: 'clip',
    provider: 'clip',
    dims: 512,
    maxTokens: 77,
    pooling: 'cls',
    normalize: true,
    hub: { repo: 'Xenova/clip-vit-base-patch32', revision: 'main', files: { fp32: 'onnx/text_model.onnx' } },
    modalities: ['text', 'image'],
  },
  bge('small', 384),
  bge('base', 768),
  bge('large', 1024),
  {
    name: 'sentence-transformers/all-MiniLM-L6-v2',
    aliases: ['all-MiniLM-L6-v2'],
    family: 'sentence-transformers',
    provider: 'onnx',
    dims: 384,
    maxTokens: 256,
    pooling: 'mean',
    normalize: true,
    hub: {
      repo: 'sentence-transformers/all-MiniLM-L6-v2',
      revision: 'main',
      files: { fp32: 'onnx/model.onnx', int8: 'onnx/model_qint8_avx512.onnx' },
    },
    modalities: ['text'],
  },
  ...(['small', 'base'] as const).map((size): ModelSpec => ({
    name: `thenlper/gte-${size}`,
    aliases: [`gte-${size}`],
    family: 'gte',
    provider: 'onnx',
    dims: size === 'small' ? 384 : 768,
    maxTokens: 512,
    pooling: 'mean',
    normalize: true,
    hub: { repo: `thenlper/gte-${size}`, revision: 'main', files: { fp32: 'onnx/model.onnx' } },
    modalities: ['text'],
  })),
  {
    name: 'static:glove-100',
    aliases: ['glove-100'],
    family: 'static',
    provider: 'static',
    dims: 100,
    maxTokens: 100_000,
    pooling: 'mean',
    normalize: true,
    modalities: ['text'],
  },
  {
    name: 'static:file',
    family: 'static',
    provider: 'static',
    dims: 0,
    maxTokens: 100_000,
    pooling: 'mean',
    normalize: true,
    modalities: ['text'],
  },
];

const registry = new Map<string, ModelSpec>();
const aliases = new Map<string, string>();

function add(spec: ModelSpec): void {
  registry.set(spec.name, spec);
  for (const a of spec.aliases ?? []) aliases.set(a.toLowerCase(), spec.name);
  aliases.set(spec.name.toLowerCase(), spec.name);
}
BUILT_IN.forEach(add);

/**
 * Register a user model (pooling, prefixes, instruction, normalisation, max length). A spec with
 * the name of an existing model replaces it; an alias that already names another model is refused.
 * Every problem is an INVALID_CONFIG naming the field.
 */
export function registerModel(spec: ModelSpec): ModelSpec {
  const bad = (field: string, message: string): never => {
    throw new QuiverError('INVALID_CONFIG', `model spec ${JSON.stringify(spec?.name ?? '?')}: ${message}`, {
      location: { field: `model.${field}` },
    });
  };
  if (!spec || typeof spec !== 'object') bad('', 'a model spec must be an object');
  if (typeof spec.name !== 'string' || !spec.name.trim()) bad('name', 'a model spec needs a non-empty name');
  if (typeof spec.family !== 'string' || !spec.family) bad('family', 'family must be a non-empty string');
  if (!PROVIDERS.includes(spec.provider)) bad('provider', `provider must be one of ${PROVIDERS.join(', ')}`);
  const minDims = spec.provider === 'static' ? 0 : 1;
  if (!Number.isInteger(spec.dims) || spec.dims < minDims) bad('dims', 'dims must be a positive integer');
  if (!Number.isInteger(spec.maxTokens) || spec.maxTokens < 2)
    bad('maxTokens', 'maxTokens must be an integer >= 2');
  if (!POOLINGS.includes(spec.pooling)) bad('pooling', `pooling must be one of ${POOLINGS.join(', ')}`);
  if (typeof spec.normalize !== 'boolean') bad('normalize', 'normalize must be true or false');
  for (const role of ['query', 'document', 'symmetric'] as const) {
    const p = spec.prefixes?.[role];
    if (p !== undefined && typeof p !== 'string') bad(`prefixes.${role}`, 'prefixes must be strings');
  }
  if (spec.instructionTemplate !== undefined) {
    if (typeof spec.instructionTemplate !== 'string' || !spec.instructionTemplate.includes('{text}')) {
      bad('instructionTemplate', 'the instruction template must be a string containing {text}');
    }
    if (spec.prefixes) bad('prefixes', 'give either prefixes or an instructionTemplate, not both');
  }
  if (spec.prompts?.text !== undefined && !spec.prompts.text.includes('{text}')) {
    bad('prompts.text', 'the text prompt must contain {text}');
  }
  for (const key of ['image', 'imageMessage', 'chatTemplate'] as const) {
    const v = spec.prompts?.[key];
    if (v !== undefined && typeof v !== 'string') bad(`prompts.${key}`, `prompts.${key} must be a string`);
  }
  for (const d of spec.matryoshka ?? []) {
    if (!Number.isInteger(d) || d < 1 || d > spec.dims)
      bad('matryoshka', `matryoshka dims must be integers in 1..${spec.dims}`);
  }
  if (
    spec.hub !== undefined &&
    (typeof spec.hub.repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(spec.hub.repo))
  ) {
    bad('hub.repo', 'hub.repo must look like "owner/name"');
  }
  for (const a of spec.aliases ?? []) {
    const owner = aliases.get(a.toLowerCase());
    if (owner && owner !== spec.name) bad('aliases', `alias "${a}" already names ${owner}`);
  }
  const full: ModelSpec = { ...spec, modalities: spec.modalities ?? ['text'] };
  add(full);
  return full;
}

export function listModels(): ModelSpec[] {
  return [...registry.values()];
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

export function getModelSpec(name: string): ModelSpec {
  const canonical = aliases.get(name.toLowerCase());
  const spec = canonical ? registry.get(canonical) : undefined;
  if (spec) return spec;
  const close = [...registry.keys()]
    .map((n) => ({
      n,
      d: Math.min(
        distance(name.toLowerCase(), n.toLowerCase()),
        distance(name.toLowerCase(), n.split('/').pop()!.toLowerCase()),
      ),
    }))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.n);
  throw new QuiverError(
    'MODEL_NOT_FOUND',
    `no model "${name}" in the registry; did you mean ${close.join(', ')}?`,
    {
      location: { field: 'model' },
    },
  );
}

/** The exact string a model sees for a text in a role. */
export function formatInput(spec: ModelSpec, text: string, opts: EmbedOptions): string {
  if (spec.prompts?.text) return spec.prompts.text.replace('{text}', () => text);
  if (spec.instructionTemplate) {
    const instruct =
      opts.role === 'query' ||
      (opts.role === 'document' && spec.instructDocuments) ||
      (opts.role === 'symmetric' && spec.instructSymmetric);
    if (!instruct) return text;
    const task = opts.task
      ? taskInstruction(opts.task)
      : opts.role === 'symmetric'
        ? TASK_INSTRUCTIONS['sts']!
        : (spec.defaultTask ?? WEB_SEARCH);
    // Replace with functions so "$&"-style patterns in user text are taken literally.
    return spec.instructionTemplate.replace('{task}', () => task).replace('{text}', () => text);
  }
  const prefix = spec.prefixes?.[opts.role] ?? '';
  return prefix + text;
}

/**
 * Resolve a dataset name (e.g. "scifact", "SciFact", "TRECCOVID", "QuoraRetrieval") to its MTEB
 * instruction, or pass a free-text instruction through unchanged.
 */
export function taskInstruction(taskOrDataset: string): string {
  const key = taskOrDataset.toLowerCase();
  return TASK_INSTRUCTIONS[key] ?? TASK_INSTRUCTIONS[key.replace(/retrieval$/, '')] ?? taskOrDataset;
}
