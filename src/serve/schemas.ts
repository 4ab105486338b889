/**
 * JSON schemas of the API: fastify validates requests with them and /openapi.json publishes them,
 * so the documentation and the checks can never disagree.
 */
const metadata = { type: 'object', additionalProperties: true };
/** term → weight; the engine also checks the weight range and names the bad term (src/store/validate.ts). */
const sparseVector = {
  type: 'object',
  propertyNames: { minLength: 1 },
  additionalProperties: { type: 'number', minimum: 0 },
  description: 'A sparse vector: term → weight (finite, ≥ 0; 0 = absent)',
};

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
        file: { type: 'string' },
        line: { type: 'integer' },
        hint: { type: 'string' },
      },
    },
  },
};

export const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$' } },
};

export const docParams = {
  type: 'object',
  required: ['name', 'id'],
  properties: { name: nameParams.properties.name, id: { type: 'string', minLength: 1, maxLength: 512 } },
};

export const listQuery = {
  type: 'object',
  properties: { cursor: { type: 'string' }, limit: { type: 'string', pattern: '^[0-9]+$' } },
  additionalProperties: false,
};

export const facetsQuery = {
  type: 'object',
  properties: { fields: { type: 'string' }, limit: { type: 'string', pattern: '^[0-9]+$' } },
  additionalProperties: false,
};

export const document = {
  type: 'object',
  required: ['id', 'text'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 512 },
    title: { type: 'string' },
    text: { type: 'string' },
    metadata,
    sparse: {
      type: 'object',
      additionalProperties: sparseVector,
      description: 'Sparse vectors per sparse field with model "user": field name → {term: weight}',
    },
  },
  additionalProperties: false,
};

export const upsertBody = {
  type: 'object',
  required: ['documents'],
  properties: { documents: { type: 'array', items: document } },
  additionalProperties: false,
};

export const createCollectionBody = {
  type: 'object',
  required: ['name'],
  properties: {
    name: nameParams.properties.name,
    config: {
      type: 'object',
      properties: {
        analyzer: {
          type: 'object',
          properties: { language: { type: 'string' }, stopwords: {}, stemming: { type: 'boolean' } },
        },
        bm25: {
          type: 'object',
          properties: { k1: { type: 'number' }, b: { type: 'number' }, fields: { type: 'object' } },
        },
        chunking: {
          type: 'object',
          properties: { maxChars: { type: 'integer' }, overlapSentences: { type: 'integer' } },
        },
        vectors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'model'],
            properties: {
              name: { type: 'string' },
              model: { type: 'string' },
              modelDir: { type: 'string' },
              source: { enum: ['text', 'title', 'body', 'image'] },
              metric: { enum: ['cos', 'ip', 'l2'] },
              quantization: { enum: ['f32', 'f16', 'i8', 'b1'] },
              task: { type: 'string' },
              truncateDims: { type: 'integer', minimum: 1 },
            },
          },
        },
        sparse: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'model'],
            properties: {
              name: { type: 'string' },
              model: {
                type: 'string',
                description: '"user" (vectors come with documents and queries) or a sparse encoder',
              },
              modelDir: { type: 'string' },
              url: { type: 'string' },
              source: { enum: ['text', 'title', 'body'] },
              topK: { type: 'integer', minimum: 0 },
              queryTopK: { type: 'integer', minimum: 0 },
            },
            additionalProperties: false,
          },
        },
        fusion: { type: 'object' },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

const fusion = {
  type: 'object',
  properties: {
    method: { enum: ['rrf', 'convex', 'dbsf'] },
    rrfK: { type: 'number', minimum: 0 },
    normalization: { enum: ['minmax', 'zscore', 'rank'] },
    weights: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
    candidates: { type: 'integer', minimum: 1, maximum: 1000 },
  },
  additionalProperties: false,
};

export const searchBody = {
  type: 'object',
  required: ['query'],
  properties: {
    // Length and k bounds are the server's configurable limits, checked in the handler.
    query: { type: 'string' },
    mode: { enum: ['lexical', 'dense', 'sparse', 'hybrid'] },
    k: { type: 'integer', minimum: 1 },
    filter: { type: 'object' },
    fusion,
    vectorField: { type: 'string' },
    sparseField: { type: 'string' },
    sparseQuery: sparseVector,
    task: { type: 'string' },
    explain: { type: 'boolean' },
    groupBy: { enum: ['document', 'chunk'] },
    includeDocument: { type: 'boolean' },
    snippets: {},
    rerank: {},
  },
  additionalProperties: false,
};

export const evalRunBody = {
  type: 'object',
  required: ['dataset', 'mode', 'metrics', 'queries'],
  properties: {
    dataset: { type: 'string' },
    split: { type: 'string' },
    mode: { type: 'string' },
    method: { type: 'string' },
    metrics: { type: 'object', additionalProperties: { type: 'number' } },
    queries: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
};

export const embeddingsBody = {
  type: 'object',
  required: ['input', 'model'],
  properties: {
    model: { type: 'string', minLength: 1 },
    input: {
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
    },
    encoding_format: { enum: ['float', 'base64'] },
    dimensions: { type: 'integer', minimum: 1 },
    user: { type: 'string' },
    input_type: { enum: ['query', 'passage', 'document', 'symmetric'] },
    task: { type: 'string' },
  },
  additionalProperties: false,
};

// ─── responses ─────────────────────────────────────────────────────────────────────────────
// fastify serializes replies with these (fast-json-stringify), so a field missing here is dropped
// from the reply: open objects say `additionalProperties: true` on purpose.
const open = { type: 'object', additionalProperties: true };

export const statsResponse = {
  type: 'object',
  required: ['name', 'documents', 'passages', 'store', 'vectorFields'],
  properties: {
    name: { type: 'string' },
    documents: { type: 'integer' },
    passages: { type: 'integer' },
    store: { type: 'string' },
    vectorFields: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          model: { type: 'string' },
          dims: { type: 'integer' },
          vectors: { type: 'integer' },
        },
        additionalProperties: true,
      },
    },
    sparseFields: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          model: { type: 'string' },
          passages: { type: 'integer' },
          terms: { type: 'integer' },
        },
        additionalProperties: true,
      },
    },
    analyzer: open,
    bm25: open,
    fusion: open,
  },
  additionalProperties: true,
};

export const collectionsResponse = {
  type: 'object',
  required: ['collections'],
  properties: { collections: { type: 'array', items: statsResponse } },
};

export const searchResponse = {
  type: 'object',
  required: ['hits', 'mode', 'tookMs'],
  properties: {
    hits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'score', 'rank'],
        properties: {
          id: { type: 'string' },
          score: { type: 'number' },
          rank: { type: 'integer' },
          chunk: { type: 'integer' },
          title: { type: 'string' },
          text: { type: 'string' },
          metadata: open,
          snippet: open,
          explain: open,
        },
        additionalProperties: true,
      },
    },
    mode: { type: 'string' },
    tookMs: { type: 'number' },
    warnings: { type: 'array', items: { type: 'string' } },
  },
};

export const jobResponse = {
  type: 'object',
  required: ['id', 'collection', 'state', 'added', 'skipped', 'problems', 'startedAt'],
  properties: {
    id: { type: 'string' },
    collection: { type: 'string' },
    state: { enum: ['running', 'done', 'failed'] },
    added: { type: 'integer' },
    skipped: { type: 'integer' },
    problems: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          line: { type: 'integer' },
          field: { type: 'string' },
        },
      },
    },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
  },
};

/** Exactly OpenAI's shape; `embedding` is an array of floats or base64 of little-endian float32. */
export const embeddingsResponse = {
  type: 'object',
  required: ['object', 'data', 'model', 'usage'],
  properties: {
    object: { type: 'string', enum: ['list'] },
    data: {
      type: 'array',
      items: {
        type: 'object',
        required: ['object', 'index', 'embedding'],
        properties: {
          object: { type: 'string', enum: ['embedding'] },
          index: { type: 'integer' },
          embedding: { anyOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }] },
        },
      },
    },
    model: { type: 'string' },
    usage: {
      type: 'object',
      required: ['prompt_tokens', 'total_tokens'],
      properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } },
    },
  },
};

export const statusResponse = { type: 'object', properties: { status: { type: 'string' } } };

// ─── semantic IDs ──────────────────────────────────────────────────────────────────────────
export const idsQuery = {
  type: 'object',
  properties: { field: { type: 'string' } },
  additionalProperties: false,
};

export const idsTreeQuery = {
  type: 'object',
  properties: {
    field: { type: 'string' },
    // Dot-separated codes (12.200); parsed and range-checked against the fitted IDs in the handler.
    prefix: { type: 'string', maxLength: 200 },
    samples: { type: 'string', pattern: '^[0-9]{1,2}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
  },
  additionalProperties: false,
};

export const idsFitBody = {
  type: 'object',
  properties: {
    field: { type: 'string' },
    levels: { type: 'integer', minimum: 1, maximum: 8 },
    codes: { type: 'integer', minimum: 2, maximum: 65536 },
    balanced: { type: 'boolean' },
    trainSample: { type: 'integer', minimum: 1 },
    seed: { type: 'integer' },
  },
  additionalProperties: false,
};

export const idsStatusResponse = {
  type: 'object',
  required: ['fitted', 'field'],
  properties: {
    fitted: { type: 'boolean' },
    collection: { type: 'string' },
    field: { type: 'string' },
    documents: { type: 'integer' },
    levels: { type: 'integer' },
    codes: { type: 'integer' },
    balanced: { type: 'boolean' },
    utilisation: { type: 'array', items: { type: 'number' } },
    collision_rate: { type: 'number' },
    fittedAt: { type: 'string' },
    fittedDocuments: { type: 'integer' },
    seconds: { type: 'number' },
  },
};

const codeSample = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' }, title: { type: 'string' } },
};

export const idsTreeResponse = {
  type: 'object',
  required: ['field', 'levels', 'codes', 'prefix', 'total', 'children'],
  properties: {
    field: { type: 'string' },
    levels: { type: 'integer' },
    codes: { type: 'integer' },
    prefix: { type: 'array', items: { type: 'integer' } },
    total: { type: 'integer' },
    children: {
      type: 'array',
      items: {
        type: 'object',
        required: ['code', 'count', 'samples'],
        properties: {
          code: { type: 'array', items: { type: 'integer' } },
          count: { type: 'integer' },
          samples: { type: 'array', items: codeSample },
        },
      },
    },
    documents: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'code'],
        properties: {
          id: { type: 'string' },
          title: { type: 'string' },
          code: { type: 'array', items: { type: 'integer' } },
        },
      },
    },
  },
};
