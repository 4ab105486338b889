/**
 * The HTTP service: versioned JSON API over collections, documents, search, ingest jobs and eval
 * runs; an OpenAI-compatible POST /v1/embeddings; health, readiness and Prometheus metrics; and the
 * web UI at /. Every route is declared once in a table (method, path, scope, JSON schemas) from
 * which fastify validates requests and the OpenAPI document at /openapi.json is generated.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController } from 'fastify';
import pino from 'pino';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Quiver } from '../engine/quiver.js';
import { QuiverError, isQuiverError } from '../errors.js';
import { parseCodePrefix } from '../ids/collection-ids.js';
import { ingestInto, openSource } from '../ingest/index.js';
import type { QuiverDocument, SearchRequest } from '../types.js';
import type { ApiKey, Scope } from './auth.js';
import { Authenticator, parseApiKeys } from './auth.js';
import { Metrics } from './metrics.js';
import { embeddingsRoute } from './openai.js';
import * as S from './schemas.js';

export interface Limits {
  /** Request body size (413 LIMIT_EXCEEDED). Ingest jobs take JSONL bodies up to this size. */
  bodyBytes: number;
  /** Documents per POST …/documents (413 LIMIT_EXCEEDED; larger loads go through ingest jobs). */
  batchDocuments: number;
  /** Inputs per POST /v1/embeddings (413 LIMIT_EXCEEDED). */
  embeddingInputs: number;
  /** Characters of a search query (400 INVALID_ARGUMENT, field "query"). */
  queryChars: number;
  /** Largest k of a search (400 INVALID_ARGUMENT, field "k"). */
  maxK: number;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 32 * 1024 * 1024,
  batchDocuments: 1000,
  embeddingInputs: 2048,
  queryChars: 8192,
  maxK: 1000,
};

export interface ServerOptions {
  quiver: Quiver;
  apiKeys?: ApiKey[];
  /** Serve without authentication (explicit opt-in, logged loudly). */
  open?: boolean;
  cors?: string[] | boolean;
  limits?: Partial<Limits>;
  /** JSON logs on stdout: true = level info; or a pino level ('warn', 'error', 'silent', …). */
  logger?: boolean | LogLevel;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  scope: Scope | 'public';
  summary: string;
  tags: string[];
  schema?: {
    body?: object;
    querystring?: object;
    params?: object;
    response?: Record<number | string, object>;
  };
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

interface Job {
  id: string;
  collection: string;
  state: 'running' | 'done' | 'failed';
  added: number;
  skipped: number;
  problems: { code: string; message: string; line?: number; field?: string }[];
  error?: { code: string; message: string };
  startedAt: string;
  finishedAt?: string;
}

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
/** Image types served from a document's metadata.image (no SVG: it can carry script). */
const IMAGE_MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
};
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

function errorBody(e: QuiverError): { error: ReturnType<QuiverError['toJSON']> } {
  return { error: e.toJSON() };
}

/** Map fastify's own errors (validation, body size, bad JSON) to Quiver's codes. */
function toApiError(err: FastifyError | Error): QuiverError {
  if (isQuiverError(err)) return err;
  const fe = err as FastifyError & {
    validation?: { instancePath?: string; params?: { missingProperty?: string } }[];
  };
  if (fe.validation && fe.validation.length) {
    const v = fe.validation[0]!;
    const field = [v.instancePath?.replace(/^\//, '').replace(/\//g, '.'), v.params?.missingProperty]
      .filter(Boolean)
      .join('.');
    return new QuiverError('INVALID_ARGUMENT', fe.message, {
      location: { field: field || (fe as { validationContext?: string }).validationContext || 'body' },
    });
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new QuiverError('LIMIT_EXCEEDED', 'the request body is too large', {
      location: { field: 'body' },
    });
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new QuiverError('INVALID_ARGUMENT', fe.message, { location: { field: 'content-type' } });
  if (
    fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    err instanceof SyntaxError
  ) {
    return new QuiverError('INVALID_JSON', `the body is not valid JSON: ${err.message}`, {
      location: { field: 'body' },
    });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode === 404)
    return new QuiverError('INVALID_ARGUMENT', err.message);
  return new QuiverError('INTERNAL', err.message, { cause: err });
}

export async function createServer(opts: ServerOptions): Promise<FastifyInstance> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
  const auth = new Authenticator(opts.apiKeys ?? [], opts.open ?? false);
  const quiver = opts.quiver;
  const metrics = new Metrics();
  const jobs = new Map<string, Job>();
  /** Ingest jobs still writing; closing the server waits for them before the engine closes. */
  const runningJobs = new Set<Promise<void>>();
  let closing = false;
  // Access logs go to stdout through an asynchronous, buffered destination: a synchronous write per
  // log line cost ≈ 0.25 ms of CPU per request under load (profiled), more than a lexical search.
  // Lines written while a write is in flight are coalesced into the next one; flushed on close.
  const logStream = opts.logger ? pino.destination({ dest: 1, sync: false }) : undefined;
  const app = Fastify({
    logger: logStream
      ? { level: opts.logger === true ? 'info' : (opts.logger as LogLevel), stream: logStream }
      : false,
    // One line per request, written when the response is done (see the onResponse hook), instead
    // of fastify's two (incoming + completed).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyBytes,
    // While closing we answer 503 ourselves, in the API's error shape (see the onRequest hook).
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.addContentTypeParser(
    ['application/x-ndjson', 'text/plain'],
    { parseAs: 'buffer', bodyLimit: limits.bodyBytes },
    (_req, body, done) => done(null, body),
  );

  if (opts.cors) {
    const allowed = opts.cors;
    app.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (origin && (allowed === true || (Array.isArray(allowed) && allowed.includes(origin)))) {
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
        reply.header('access-control-allow-headers', 'authorization, content-type, x-api-key');
        reply.header('access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS');
      }
      if (req.method === 'OPTIONS') return reply.code(204).send();
      return undefined;
    });
  }

  app.addHook('onRequest', async (req, reply) => {
    if (!closing) return undefined;
    void reply.header('connection', 'close');
    return reply
      .code(503)
      .send(
        errorBody(
          new QuiverError(
            'UNAVAILABLE',
            `shutting down; ${req.method} ${req.url.split('?')[0]} was not started`,
          ),
        ),
      );
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Replies finished while closing end their connection; otherwise a keep-alive socket of a request
  // that was in flight at close would hold the process open until keepAliveTimeout (72 s).
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onClose', async () => {
    // In-flight HTTP requests (writes included) are finished by fastify before this hook runs;
    // background ingest jobs are awaited here so their last batch is committed.
    await Promise.allSettled([...runningJobs]);
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = (req.routeOptions?.url as string | undefined) ?? 'unmatched';
    metrics.observe(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (logStream) {
      req.log.info(
        {
          method: req.method,
          url: req.url,
          statusCode: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 100) / 100,
        },
        'request',
      );
    }
  });
  if (logStream) app.addHook('onClose', async () => logStream.flushSync());

  app.setErrorHandler((err, _req, reply) => {
    const e = toApiError(err as Error);
    if (e.code === 'INTERNAL') app.log.error(err);
    void reply.code(e.httpStatus).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(
      errorBody(
        new QuiverError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`, {
          location: { field: 'path' },
        }),
      ),
    );
  });

  const routes: RouteDef[] = [];
  const add = (r: RouteDef) => {
    routes.push(r);
    app.route({
      method: r.method,
      url: r.url,
      schema: {
        ...(r.schema ?? {}),
        response: { ...(r.schema?.response ?? {}), '4xx': S.errorSchema, '5xx': S.errorSchema },
      },
      preHandler: async (req) => {
        if (r.scope === 'public') return;
        const header =
          (req.headers.authorization as string | undefined) ??
          (req.headers['x-api-key'] as string | undefined);
        auth.require(header, r.scope);
      },
      handler: r.handler,
    });
  };

  const collectionOf = (req: FastifyRequest) => quiver.getCollection((req.params as { name: string }).name);

  // ─── operations ──────────────────────────────────────────────────────────────────────────
  add({
    method: 'GET',
    url: '/healthz',
    scope: 'public',
    summary: 'Liveness',
    tags: ['ops'],
    schema: { response: { 200: S.statusResponse } },
    handler: async () => ({ status: 'ok' }),
  });
  let ready = false;
  add({
    method: 'GET',
    url: '/readyz',
    scope: 'public',
    summary: 'Readiness: collections are open',
    tags: ['ops'],
    schema: { response: { 200: S.statusResponse, 503: S.statusResponse } },
    handler: async (_req, reply) =>
      ready && !closing
        ? { status: 'ready' }
        : reply.code(503).send({ status: closing ? 'closing' : 'starting' }),
  });
  add({
    method: 'GET',
    url: '/metrics',
    scope: 'public',
    summary: 'Prometheus metrics',
    tags: ['ops'],
    handler: async (_req, reply) => {
      const docs: { labels: Record<string, string>; value: number }[] = [];
      const vecs: { labels: Record<string, string>; value: number }[] = [];
      for (const name of await quiver.listCollections()) {
        const s = await (await quiver.getCollection(name)).stats();
        docs.push({ labels: { collection: name }, value: s.documents });
        for (const f of s.vectorFields)
          vecs.push({ labels: { collection: name, field: f.name }, value: f.vectors });
      }
      return reply.type('text/plain; version=0.0.4').send(
        metrics.render([
          { name: 'quiver_collection_documents', help: 'Documents per collection.', values: docs },
          { name: 'quiver_index_vectors', help: 'Vectors per field.', values: vecs },
        ]),
      );
    },
  });
  add({
    method: 'GET',
    url: '/openapi.json',
    scope: 'public',
    summary: 'This API as OpenAPI 3',
    tags: ['ops'],
    handler: async () => openApi(routes),
  });

  // ─── collections ─────────────────────────────────────────────────────────────────────────
  add({
    method: 'GET',
    url: '/v1/collections',
    scope: 'read',
    summary: 'List collections with their stats',
    tags: ['collections'],
    schema: { response: { 200: S.collectionsResponse } },
    handler: async () => {
      const out = [];
      for (const name of await quiver.listCollections())
        out.push(await (await quiver.getCollection(name)).stats());
      return { collections: out };
    },
  });
  add({
    method: 'POST',
    url: '/v1/collections',
    scope: 'admin',
    summary: 'Create a collection (analyzer, BM25, chunking, vector fields, fusion)',
    tags: ['collections'],
    schema: { body: S.createCollectionBody, response: { 201: S.statsResponse } },
    handler: async (req, reply) => {
      const { name, config } = req.body as { name: string; config?: Record<string, unknown> };
      const c = await quiver.createCollection(name, config ?? {});
      return reply.code(201).send(await c.stats());
    },
  });
  add({
    method: 'GET',
    url: '/v1/collections/:name',
    scope: 'read',
    summary: 'Collection stats',
    tags: ['collections'],
    schema: { params: S.nameParams, response: { 200: S.statsResponse } },
    handler: async (req) => (await collectionOf(req)).stats(),
  });
  add({
    method: 'DELETE',
    url: '/v1/collections/:name',
    scope: 'admin',
    summary: 'Delete a collection and all its data',
    tags: ['collections'],
    schema: { params: S.nameParams },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      await quiver.dropCollection(name);
      return { deleted: name };
    },
  });
  add({
    method: 'GET',
    url: '/v1/collections/:name/facets',
    scope: 'read',
    summary: 'Metadata value counts, for filters',
    tags: ['collections'],
    schema: { params: S.nameParams, querystring: S.facetsQuery },
    handler: async (req) => {
      const q = req.query as { fields?: string; limit?: string };
      return (await collectionOf(req)).facets(q.fields ? q.fields.split(',') : undefined, {
        limit: q.limit ? Number(q.limit) : 20,
      });
    },
  });

  // ─── documents ───────────────────────────────────────────────────────────────────────────
  add({
    method: 'POST',
    url: '/v1/collections/:name/documents',
    scope: 'write',
    summary: 'Upsert a batch of documents (atomic)',
    tags: ['documents'],
    schema: { params: S.nameParams, body: S.upsertBody },
    handler: async (req) => {
      const { documents } = req.body as { documents: QuiverDocument[] };
      if (documents.length > limits.batchDocuments) {
        throw new QuiverError(
          'LIMIT_EXCEEDED',
          `at most ${limits.batchDocuments} documents per batch (got ${documents.length}); use /ingest for more`,
          {
            location: { field: 'documents' },
          },
        );
      }
      return (await collectionOf(req)).upsert(documents);
    },
  });
  add({
    method: 'GET',
    url: '/v1/collections/:name/documents',
    scope: 'read',
    summary: 'List documents with cursor paging',
    tags: ['documents'],
    schema: { params: S.nameParams, querystring: S.listQuery },
    handler: async (req) => {
      const q = req.query as { cursor?: string; limit?: string };
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new QuiverError('INVALID_ARGUMENT', 'limit must be an integer in [1, 1000]', {
          location: { field: 'limit' },
        });
      }
      const page = await (await collectionOf(req)).list({ limit, ...(q.cursor ? { cursor: q.cursor } : {}) });
      return { documents: page.docs.map(publicDoc), ...(page.next ? { next: page.next } : {}) };
    },
  });
  add({
    method: 'GET',
    url: '/v1/collections/:name/documents/:id',
    scope: 'read',
    summary: 'Get a document',
    tags: ['documents'],
    schema: { params: S.docParams },
    handler: async (req) => {
      const { id } = req.params as { id: string };
      const [doc] = await (await collectionOf(req)).get([id]);
      if (!doc)
        throw new QuiverError('DOCUMENT_NOT_FOUND', `no document "${id}"`, { location: { field: 'id' } });
      return publicDoc(doc);
    },
  });
  add({
    method: 'DELETE',
    url: '/v1/collections/:name/documents/:id',
    scope: 'write',
    summary: 'Delete a document',
    tags: ['documents'],
    schema: { params: S.docParams },
    handler: async (req) => {
      const { id } = req.params as { id: string };
      const res = await (await collectionOf(req)).delete([id]);
      if (res.deleted === 0)
        throw new QuiverError('DOCUMENT_NOT_FOUND', `no document "${id}"`, { location: { field: 'id' } });
      return res;
    },
  });

  add({
    method: 'GET',
    url: '/v1/collections/:name/documents/:id/image',
    scope: 'read',
    summary: "A document's image (metadata.image), for image collections",
    tags: ['documents'],
    schema: { params: S.docParams },
    handler: async (req, reply) => {
      const { id } = req.params as { id: string };
      const [doc] = await (await collectionOf(req)).get([id]);
      if (!doc)
        throw new QuiverError('DOCUMENT_NOT_FOUND', `no document "${id}"`, { location: { field: 'id' } });
      const image = doc.metadata?.['image'];
      if (typeof image !== 'string') {
        throw new QuiverError('FILE_NOT_FOUND', `document "${id}" has no metadata.image`, {
          location: { field: 'metadata.image' },
        });
      }
      const path = resolve(quiver.dataDir, image);
      // Only image files are ever read: a write key cannot turn metadata.image into a file reader.
      const type = IMAGE_MIME[extname(path).toLowerCase()];
      if (!type)
        throw new QuiverError(
          'FILE_NOT_FOUND',
          `metadata.image of "${id}" is not a PNG, JPEG, GIF, WebP or AVIF file`,
          { location: { field: 'metadata.image' } },
        );
      if (!existsSync(path))
        throw new QuiverError('FILE_NOT_FOUND', `the image of "${id}" is gone`, {
          location: { field: 'metadata.image' },
        });
      return reply.type(type).header('cache-control', 'private, max-age=300').send(createReadStream(path));
    },
  });

  // ─── search ──────────────────────────────────────────────────────────────────────────────
  add({
    method: 'POST',
    url: '/v1/collections/:name/search',
    scope: 'read',
    summary: 'Search: lexical, dense, sparse or hybrid, with filters, fusion options and explain',
    tags: ['search'],
    schema: { params: S.nameParams, body: S.searchBody, response: { 200: S.searchResponse } },
    handler: async (req) => {
      const body = req.body as SearchRequest;
      if (body.query.length > limits.queryChars) {
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `the query has ${body.query.length} characters; at most ${limits.queryChars}`,
          {
            location: { field: 'query' },
          },
        );
      }
      if (body.k !== undefined && body.k > limits.maxK) {
        throw new QuiverError('INVALID_ARGUMENT', `k is ${body.k}; at most ${limits.maxK}`, {
          location: { field: 'k' },
        });
      }
      return (await collectionOf(req)).search(body);
    },
  });

  // ─── semantic IDs ────────────────────────────────────────────────────────────────────────
  add({
    method: 'GET',
    url: '/v1/collections/:name/ids',
    scope: 'read',
    summary: 'Semantic IDs of a vector field: whether fitted, utilisation per level, collision rate',
    tags: ['ids'],
    schema: { params: S.nameParams, querystring: S.idsQuery, response: { 200: S.idsStatusResponse } },
    handler: async (req) => {
      const q = req.query as { field?: string };
      return (await (await collectionOf(req)).semanticIds(q.field)).status();
    },
  });
  add({
    method: 'GET',
    url: '/v1/collections/:name/ids/tree',
    scope: 'read',
    summary:
      'Browse the code tree: codes under a prefix (e.g. ?prefix=12.200) with counts and sample titles; documents at full depth',
    tags: ['ids'],
    schema: { params: S.nameParams, querystring: S.idsTreeQuery, response: { 200: S.idsTreeResponse } },
    handler: async (req) => {
      const q = req.query as { field?: string; prefix?: string; samples?: string; limit?: string };
      const ids = await (await collectionOf(req)).semanticIds(q.field);
      return ids.tree(parseCodePrefix(q.prefix), {
        ...(q.samples !== undefined ? { samples: Number(q.samples) } : {}),
        ...(q.limit !== undefined ? { limit: Math.max(1, Number(q.limit)) } : {}),
      });
    },
  });
  add({
    method: 'GET',
    url: '/v1/collections/:name/ids/export',
    scope: 'read',
    summary: 'Every document\'s semantic ID as JSONL: {"id": …, "code": [12, 200, 7]}',
    tags: ['ids'],
    schema: { params: S.nameParams, querystring: S.idsQuery },
    handler: async (req, reply) => {
      const q = req.query as { field?: string };
      const entries = await (await (await collectionOf(req)).semanticIds(q.field)).entries();
      return reply
        .type('application/x-ndjson')
        .send(entries.map((e) => `${JSON.stringify({ id: e.id, code: e.code })}\n`).join(''));
    },
  });
  add({
    method: 'POST',
    url: '/v1/collections/:name/ids/fit',
    scope: 'admin',
    summary:
      "Fit (or re-fit) balanced semantic IDs on the collection's document vectors; replaces the stored IDs",
    tags: ['ids'],
    schema: { params: S.nameParams, body: S.idsFitBody, response: { 200: S.idsStatusResponse } },
    handler: async (req) => {
      const { field, ...opts } = (req.body ?? {}) as {
        field?: string;
        levels?: number;
        codes?: number;
        balanced?: boolean;
        trainSample?: number;
        seed?: number;
      };
      const t0 = performance.now();
      const c = await collectionOf(req);
      await c.flush();
      const report = await (await c.semanticIds(field)).fit(opts);
      return { fitted: true, ...report, seconds: (performance.now() - t0) / 1000 };
    },
  });

  // ─── ingest jobs ─────────────────────────────────────────────────────────────────────────
  add({
    method: 'POST',
    url: '/v1/collections/:name/ingest',
    scope: 'write',
    summary: 'Start an ingest job from a JSONL body (application/x-ndjson); poll /v1/jobs/{id}',
    tags: ['documents'],
    schema: { params: S.nameParams, response: { 202: S.jobResponse } },
    handler: async (req, reply) => {
      const c = await collectionOf(req);
      const body = req.body;
      if (!Buffer.isBuffer(body)) {
        throw new QuiverError('INVALID_ARGUMENT', 'send JSONL with Content-Type: application/x-ndjson', {
          location: { field: 'content-type' },
        });
      }
      const job: Job = {
        id: `job_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`,
        collection: c.name,
        state: 'running',
        added: 0,
        skipped: 0,
        problems: [],
        startedAt: new Date().toISOString(),
      };
      jobs.set(job.id, job);
      const run = (async () => {
        try {
          const res = await ingestInto(
            { upsert: (docs) => c.upsert(docs, { deferVectors: true }) },
            openSource({ stdin: true, input: Readable.from([body]) }),
            { batchSize: 500, onError: 'skip', onProgress: (n) => (job.added = n) },
          );
          await c.flush();
          job.added = res.added;
          job.skipped = res.skipped;
          job.problems = res.problems.slice(0, 100).map((p) => ({
            code: p.code,
            message: p.message,
            ...(p.location.line ? { line: p.location.line } : {}),
            ...(p.location.field ? { field: p.location.field } : {}),
          }));
          job.state = 'done';
        } catch (e) {
          const qe = toApiError(e as Error);
          job.state = 'failed';
          job.error = { code: qe.code, message: qe.message };
        } finally {
          job.finishedAt = new Date().toISOString();
        }
      })();
      runningJobs.add(run);
      void run.finally(() => runningJobs.delete(run));
      return reply.code(202).send(job);
    },
  });
  add({
    method: 'GET',
    url: '/v1/jobs/:id',
    scope: 'read',
    summary: 'Ingest job progress and problems',
    tags: ['documents'],
    schema: { response: { 200: S.jobResponse } },
    handler: async (req) => {
      const { id } = req.params as { id: string };
      const job = jobs.get(id);
      if (!job) throw new QuiverError('JOB_NOT_FOUND', `no job "${id}"`, { location: { field: 'id' } });
      return job;
    },
  });

  // ─── eval runs ───────────────────────────────────────────────────────────────────────────
  add({
    method: 'GET',
    url: '/v1/eval-runs',
    scope: 'read',
    summary: 'Stored evaluation runs',
    tags: ['eval'],
    handler: async () => ({ runs: await quiver.evalRuns.list() }),
  });
  add({
    method: 'POST',
    url: '/v1/eval-runs',
    scope: 'write',
    summary: 'Record an evaluation run',
    tags: ['eval'],
    schema: { body: S.evalRunBody },
    handler: async (req, reply) => {
      const b = req.body as {
        dataset: string;
        split?: string;
        mode: string;
        method?: string;
        metrics: Record<string, number>;
        queries: number;
      };
      const run = {
        id: `run_${Date.now().toString(36)}`,
        createdAt: new Date().toISOString(),
        store: quiver.storeKind,
        split: b.split ?? 'test',
        ...b,
      };
      await quiver.evalRuns.append(run);
      return reply.code(201).send(run);
    },
  });

  // ─── OpenAI-compatible embeddings ────────────────────────────────────────────────────────
  add(embeddingsRoute(quiver, metrics, limits.embeddingInputs));

  // ─── web UI ──────────────────────────────────────────────────────────────────────────────
  const serveAsset = async (file: string, reply: FastifyReply) => {
    const path = normalize(join(WEB_DIR, file));
    if (!path.startsWith(WEB_DIR) || !existsSync(path)) {
      return reply.code(404).send(errorBody(new QuiverError('FILE_NOT_FOUND', `no asset ${file}`)));
    }
    return reply
      .type(MIME[extname(path)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .send(await readFile(path));
  };
  app.get('/', async (_req, reply) => serveAsset('index.html', reply));
  app.get('/ui/*', async (req, reply) => serveAsset((req.params as { '*': string })['*'], reply));

  // Open every collection up front so the first query is fast and /readyz means something.
  for (const name of await quiver.listCollections()) await quiver.getCollection(name);
  ready = true;
  return app;
}

function publicDoc(d: QuiverDocument): QuiverDocument {
  return {
    id: d.id,
    ...(d.title !== undefined ? { title: d.title } : {}),
    text: d.text,
    ...(d.metadata ? { metadata: d.metadata } : {}),
    ...(d.sparse ? { sparse: d.sparse } : {}),
  };
}

/** The route's 2xx response schemas as OpenAPI responses (a plain 200 when it declares none). */
function successResponses(response: Record<number | string, object> | undefined): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [status, schema] of Object.entries(response ?? {})) {
    if (/^2\d\d$/.test(status))
      out[status] = { description: 'OK', content: { 'application/json': { schema } } };
  }
  return Object.keys(out).length ? out : { 200: { description: 'OK' } };
}

/** OpenAPI 3.0 from the route table. */
function openApi(routes: RouteDef[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const p = r.url.replace(/:([a-zA-Z]+)/g, '{$1}');
    const params = [...r.url.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    (paths[p] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: r.tags,
      ...(params.length ? { parameters: params } : {}),
      ...(r.schema?.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } }
        : {}),
      ...(r.scope === 'public' ? { security: [] } : { 'x-scope': r.scope }),
      responses: {
        ...successResponses(r.schema?.response),
        400: { description: 'Invalid input', content: { 'application/json': { schema: S.errorSchema } } },
        401: {
          description: 'No or unknown API key',
          content: { 'application/json': { schema: S.errorSchema } },
        },
        403: {
          description: 'API key lacks the scope',
          content: { 'application/json': { schema: S.errorSchema } },
        },
        404: { description: 'Not found', content: { 'application/json': { schema: S.errorSchema } } },
        413: { description: 'Too large', content: { 'application/json': { schema: S.errorSchema } } },
        503: { description: 'Shutting down', content: { 'application/json': { schema: S.errorSchema } } },
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Quiver',
      version: '0.1.0',
      description: 'Search engine built around universal embeddings.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

export interface StartOptions {
  data: string;
  store?: string;
  port: number;
  host?: string;
  apiKey?: string;
  open?: boolean;
  cors?: string[] | boolean;
  logLevel?: LogLevel;
}

/** `quiver serve`: start, log where, and shut down gracefully on SIGTERM/SIGINT. */
export async function startServer(o: StartOptions): Promise<void> {
  const keys = parseApiKeys(process.env.QUIVER_API_KEYS);
  if (o.apiKey) keys.push({ key: o.apiKey, scopes: ['admin'] });
  const host = o.host ?? '127.0.0.1';
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);
  // Without keys the server is open, but only on loopback (a developer's machine) unless --open
  // says so explicitly; either way it is logged loudly at start.
  if (keys.length === 0 && !o.open && !loopback) {
    throw new QuiverError(
      'INVALID_CONFIG',
      `refusing to serve on ${host} without API keys: pass --api-key <key> (or QUIVER_API_KEYS), or --open`,
      {
        location: { field: 'api-key' },
      },
    );
  }
  const open = o.open ?? keys.length === 0;
  const quiver = await Quiver.open({ data: o.data, ...(o.store ? { store: o.store } : {}) });
  const app = await createServer({
    quiver,
    apiKeys: keys,
    open,
    ...(o.cors ? { cors: o.cors } : {}),
    logger: o.logLevel ?? 'info',
  });
  if (open)
    app.log.warn(`AUTHENTICATION IS OFF: anyone who can reach ${host}:${o.port} can read, write and delete`);
  await app.listen({ port: o.port, host });
  await new Promise<void>((resolve) => {
    let closing = false;
    const stop = async (signal: string) => {
      if (closing) return;
      closing = true;
      app.log.info(`${signal}: finishing in-flight requests`);
      // fastify.close stops accepting and waits for in-flight requests (writes included).
      await app.close();
      await quiver.close();
      resolve();
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}
