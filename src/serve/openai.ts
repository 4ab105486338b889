/**
 * POST /v1/embeddings, OpenAI-compatible: `input` (string or array), `model` (a registry name;
 * its E5 conventions are applied), `encoding_format` float|base64 (little-endian float32, as
 * OpenAI), `dimensions` (Matryoshka truncation + renormalisation), `usage`. Extensions:
 * `input_type` (query | passage/document | symmetric; default query — the E5 model card's advice
 * when the use is unknown: "query: " is also what symmetric tasks and embeddings-as-features use)
 * and `task` for instruct models.
 *
 * `usage` counts the tokens this request gave the model (prefix included), read from the
 * embedder's counters; calls on one embedder are serialised so concurrent requests cannot
 * count each other's tokens (embedding is CPU-bound, so this costs no throughput).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EmbedRole } from '../embed/embedder.js';
import type { Quiver } from '../engine/quiver.js';
import { QuiverError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { embeddingsBody, embeddingsResponse } from './schemas.js';
import type { Scope } from './auth.js';

interface Body {
  model: string;
  input: string | string[];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  input_type?: 'query' | 'passage' | 'document' | 'symmetric';
  task?: string;
}

const ROLE: Record<string, EmbedRole> = {
  query: 'query',
  passage: 'document',
  document: 'document',
  symmetric: 'symmetric',
};

export function embeddingsRoute(quiver: Quiver, metrics: Metrics, maxInputs: number) {
  /** The tail of each model's queue of embed calls. */
  const queues = new Map<string, Promise<unknown>>();
  const serialised = <T>(model: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(model) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    queues.set(model, tail);
    void tail.then(() => {
      if (queues.get(model) === tail) queues.delete(model);
    });
    return run;
  };
  return {
    method: 'POST' as const,
    url: '/v1/embeddings',
    scope: 'read' as Scope,
    summary: 'OpenAI-compatible embeddings with each model’s exact conventions',
    tags: ['embeddings'],
    schema: { body: embeddingsBody, response: { 200: embeddingsResponse } },
    handler: async (req: FastifyRequest, _reply: FastifyReply) => {
      const b = req.body as Body;
      const inputs = typeof b.input === 'string' ? [b.input] : b.input;
      if (inputs.length > maxInputs) {
        throw new QuiverError(
          'LIMIT_EXCEEDED',
          `at most ${maxInputs} inputs per request (got ${inputs.length})`,
          { location: { field: 'input' } },
        );
      }
      const embedder = await quiver.getEmbedder(b.model);
      if (b.dimensions !== undefined && b.dimensions > embedder.dims) {
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `dimensions must be at most ${embedder.dims} for ${embedder.modelId}`,
          { location: { field: 'dimensions' } },
        );
      }
      const role = ROLE[b.input_type ?? 'query']!;
      const t0 = performance.now();
      const { vectors, tokens } = await serialised(embedder.modelId, async () => {
        const before = embedder.stats().tokens;
        const out = await embedder.embed(inputs, {
          role,
          ...(b.task ? { task: b.task } : {}),
          ...(b.dimensions ? { dimensions: b.dimensions } : {}),
        });
        return { vectors: out, tokens: Math.max(0, embedder.stats().tokens - before) };
      });
      metrics.embeddedTexts += inputs.length;
      metrics.embeddedTokens += tokens;
      metrics.embeddedSeconds += (performance.now() - t0) / 1000;
      return {
        object: 'list',
        data: vectors.map((v, index) => ({
          object: 'embedding',
          index,
          embedding:
            b.encoding_format === 'base64'
              ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
              : Array.from(v),
        })),
        model: embedder.modelId,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    },
  };
}
