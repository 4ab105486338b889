/**
 * Every error Quiver raises on purpose is a QuiverError with a stable code.
 *
 * The code table lives here, in one place (as Orama does), so that the CLI, the HTTP API and the
 * docs all speak the same vocabulary. Codes are part of the public contract: never rename one,
 * add a new one instead.
 */

export const ERROR_CODES = {
  // Input the user gave us
  INVALID_ARGUMENT: { http: 400, hint: 'Check the value named in the message.' },
  INVALID_DOCUMENT: { http: 400, hint: 'Each document needs a string id and a string text.' },
  INVALID_JSON: { http: 400, hint: 'Fix the JSON at the reported file:line.' },
  INVALID_UTF8: { http: 400, hint: 'Re-encode the file as UTF-8.' },
  INVALID_FILTER: {
    http: 400,
    hint: 'Filters look like {"field": value}, {"field": {"$in": [...]}}, {"$and": [...]}.',
  },
  INVALID_QUERY: { http: 400, hint: 'Give a non-empty query.' },
  INVALID_CONFIG: { http: 400, hint: 'Check the collection configuration.' },
  LIMIT_EXCEEDED: { http: 413, hint: 'Send less at once.' },
  // Things that are not there
  COLLECTION_NOT_FOUND: {
    http: 404,
    hint: 'Create it first with `quiver init <name>` or POST /v1/collections.',
  },
  COLLECTION_EXISTS: { http: 409, hint: 'Pick another name or delete the existing collection.' },
  DOCUMENT_NOT_FOUND: { http: 404, hint: 'List documents to see which ids exist.' },
  MODEL_NOT_FOUND: {
    http: 404,
    hint: 'Run `quiver models` to list registered models, or register your own spec.',
  },
  FILE_NOT_FOUND: { http: 404, hint: 'Check the path.' },
  ROUTE_NOT_FOUND: { http: 404, hint: 'See GET /openapi.json for every route of the HTTP API.' },
  JOB_NOT_FOUND: {
    http: 404,
    hint: 'Jobs live in the memory of the server that started them and do not survive a restart.',
  },
  // Things that disagree
  EMBEDDER_MISMATCH: {
    http: 409,
    hint: 'The collection was built with another model or prompt convention; re-embed or use a new collection.',
  },
  DIMENSION_MISMATCH: {
    http: 400,
    hint: 'All vectors of one field must have the dimensions the field declares.',
  },
  INDEX_CORRUPT: {
    http: 500,
    hint: 'The derived index is rebuilt from the store of record; nothing stored is lost.',
  },
  // Outside world
  MODEL_DOWNLOAD_FAILED: {
    http: 502,
    hint: 'No network? Download the model elsewhere and pass --model-dir <folder> (a folder with tokenizer.json and onnx/model.onnx).',
  },
  REMOTE_ERROR: {
    http: 502,
    hint: 'The remote embedding/rerank endpoint failed; check its URL, key and logs.',
  },
  TIMEOUT: { http: 504, hint: 'The operation took too long; retry or raise the timeout.' },
  STORE_ERROR: { http: 500, hint: 'The storage backend failed; check its logs and connection.' },
  // Auth
  UNAUTHORIZED: { http: 401, hint: 'Send an API key: Authorization: Bearer <key>.' },
  FORBIDDEN: { http: 403, hint: 'This API key lacks the scope this operation needs.' },
  NOT_IMPLEMENTED: { http: 501, hint: 'This backend does not support the operation.' },
  UNAVAILABLE: { http: 503, hint: 'The server is shutting down or not ready yet; retry shortly.' },
  INTERNAL: { http: 500, hint: 'This is a bug in Quiver; please report it with the command you ran.' },
} as const satisfies Record<string, { http: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where bad input was found: a file and line, a field, or both. */
export interface ErrorLocation {
  file?: string;
  line?: number;
  field?: string;
}

export class QuiverError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { location?: ErrorLocation; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'QuiverError';
    this.code = code;
    this.location = opts.location ?? {};
    this.details = opts.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get hint(): string {
    return ERROR_CODES[this.code].hint;
  }

  /** "file:line field" prefix for one-line reports, empty when nothing is known. */
  get where(): string {
    const { file, line, field } = this.location;
    const place = file
      ? line !== undefined
        ? `${file}:${line}`
        : file
      : line !== undefined
        ? `line ${line}`
        : '';
    return [place, field ? `field "${field}"` : ''].filter(Boolean).join(' ');
  }

  /** One clear line: code, place, what was wrong, what to do. */
  toLine(): string {
    const where = this.where;
    return `error ${this.code}${where ? ` at ${where}` : ''}: ${this.message} — ${this.hint}`;
  }

  toJSON(): { code: ErrorCode; message: string; field?: string; file?: string; line?: number; hint: string } {
    return { code: this.code, message: this.message, ...this.location, hint: this.hint };
  }
}

export function isQuiverError(e: unknown): e is QuiverError {
  return e instanceof QuiverError;
}

/** Wrap anything thrown into a QuiverError, keeping the original as the cause. */
export function toQuiverError(e: unknown, fallback: ErrorCode = 'INTERNAL'): QuiverError {
  if (e instanceof QuiverError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new QuiverError(fallback, message, { cause: e });
}
