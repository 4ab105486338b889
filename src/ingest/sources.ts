/**
 * Document sources: BEIR corpus JSONL, generic JSONL / JSON arrays with a field mapping, folders of
 * text/Markdown/HTML/image files, and stdin. Each yields documents or problems, one per record,
 * with file:line — a bad record is reported, never silently dropped, and never half-read.
 *
 * JSONL is read as bytes, line by line, so a 1 GB file streams in bounded memory and invalid UTF-8
 * is caught per line (a decoding stream would silently insert U+FFFD).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { parse as parseHtml } from 'node-html-parser';
import type { ErrorLocation } from '../errors.js';
import { QuiverError } from '../errors.js';
import { validateDocument } from '../store/validate.js';
import { openFileStream } from './files.js';
import type { JsonValue, Metadata, QuiverDocument } from '../types.js';

export type IngestItem =
  { ok: true; doc: QuiverDocument; location: ErrorLocation } | { ok: false; error: QuiverError };

export interface FieldMapping {
  id: string;
  text: string;
  title?: string;
  /** Which other fields become metadata: a list of paths, or 'rest' (every unmapped field). */
  metadata?: string[] | 'rest';
}

export interface SourceSpec {
  path?: string;
  stdin?: boolean;
  format?: 'auto' | 'beir' | 'jsonl' | 'json' | 'folder';
  mapping?: FieldMapping;
  /** Stream to read instead of process.stdin (tests). */
  input?: Readable;
}

/**
 * JSON array files are parsed whole (JSON.parse needs the entire text, and the parsed objects take
 * several times the file size), so they are refused past this size with advice to use JSONL,
 * which streams in bounded memory.
 */
export const MAX_JSON_ARRAY_BYTES = 256 * 1024 * 1024;
const TEXT_EXTENSIONS = new Set(['.txt', '.md', '.markdown', '.html', '.htm']);
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Lines of a byte stream, each with its 1-based number; a final line without newline counts. */
export async function* readLines(
  stream: AsyncIterable<Buffer | string>,
): AsyncIterable<{ line: number; bytes: Buffer }> {
  let pending: Buffer[] = [];
  let line = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      const piece = buf.subarray(start, nl);
      line++;
      yield { line, bytes: pending.length ? Buffer.concat([...pending, piece]) : piece };
      pending = [];
      start = nl + 1;
    }
    if (start < buf.length) pending.push(Buffer.from(buf.subarray(start)));
  }
  if (pending.length) {
    line++;
    yield { line, bytes: Buffer.concat(pending) };
  }
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (for the error message). */
function firstBadUtf8Byte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const n =
      b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    try {
      utf8.decode(bytes.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return bytes.length;
}

/**
 * Offset of the first JSON syntax error in `text` (undefined if none): a small recursive-descent
 * scanner, run only after JSON.parse failed, to point the user at the right line.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t'))
      i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 92) {
        const esc = text[i + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i += 2;
        else fail();
      } else i++;
    }
    fail();
  };
  const value = (depth: number): void => {
    if (depth > 5000) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m || m[0].length === 0) fail();
      i += m![0].length;
    }
  };
  try {
    value(0);
    ws();
    return i < text.length ? i : undefined;
  } catch (at) {
    if (typeof at === 'number') return at;
    throw at;
  }
}

/** 1-based line and column of a character offset, for JSON syntax errors in whole files. */
function lineAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const BEIR_MAPPING: FieldMapping = { id: '_id', text: 'text', title: 'title', metadata: ['metadata'] };

/** Guess a mapping for generic JSON: id/_id/docid, text/body/content/contents, title. */
function guessMapping(obj: Record<string, unknown>): FieldMapping {
  const pick = (names: string[]) => names.find((n) => n in obj);
  return {
    id: pick(['id', '_id', 'docid', 'doc_id']) ?? 'id',
    text: pick(['text', 'body', 'content', 'contents', 'abstract']) ?? 'text',
    ...(pick(['title', 'name', 'headline']) ? { title: pick(['title', 'name', 'headline'])! } : {}),
    metadata: 'rest',
  };
}

/** Turn one parsed record into a document, or a problem naming the field. */
export function toDocument(
  raw: unknown,
  mapping: FieldMapping | undefined,
  location: ErrorLocation,
): IngestItem {
  const bad = (message: string, field?: string): IngestItem => ({
    ok: false,
    error: new QuiverError('INVALID_DOCUMENT', message, {
      location: { ...location, ...(field ? { field } : {}) },
    }),
  });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return bad('record is not a JSON object');
  const obj = raw as Record<string, unknown>;
  const m = mapping ?? guessMapping(obj);
  let id = readPath(obj, m.id);
  if (typeof id === 'number' && Number.isFinite(id)) id = String(id);
  if (id === undefined || id === null) return bad(`missing id (field "${m.id}")`, m.id);
  if (typeof id !== 'string' || id.length === 0)
    return bad(`id must be a non-empty string (field "${m.id}")`, m.id);
  const text = readPath(obj, m.text);
  if (text === undefined || text === null) return bad(`missing text (field "${m.text}")`, m.text);
  if (typeof text !== 'string') return bad(`text must be a string (field "${m.text}")`, m.text);
  const doc: QuiverDocument = { id, text };
  if (m.title) {
    const title = readPath(obj, m.title);
    if (title !== undefined && title !== null) {
      if (typeof title !== 'string') return bad(`title must be a string (field "${m.title}")`, m.title);
      doc.title = title;
    }
  }
  // A record's top-level "sparse" object holds user-supplied sparse vectors (field → term → weight):
  // passed through as the document's, never folded into metadata; the store validates it.
  const sparse = obj['sparse'];
  if (sparse !== undefined && sparse !== null) doc.sparse = sparse as NonNullable<QuiverDocument['sparse']>;
  let metadata: Metadata | undefined;
  if (m.metadata === 'rest') {
    const used = new Set([m.id, m.text, m.title, 'sparse'].filter(Boolean).map((p) => p!.split('.')[0]));
    for (const [k, v] of Object.entries(obj)) {
      if (used.has(k)) continue;
      if (k === 'metadata' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
        metadata = { ...(metadata ?? {}), ...(v as Metadata) };
      } else {
        (metadata ??= {})[k] = v as JsonValue;
      }
    }
  } else if (m.metadata) {
    for (const p of m.metadata) {
      const v = readPath(obj, p);
      if (v === undefined) continue;
      if (p === 'metadata') {
        if (typeof v !== 'object' || v === null || Array.isArray(v))
          return bad('metadata must be a JSON object', p);
        metadata = { ...(metadata ?? {}), ...(v as Metadata) };
      } else {
        (metadata ??= {})[p] = v as JsonValue;
      }
    }
  }
  if (metadata && Object.keys(metadata).length) doc.metadata = metadata;
  // The store's own rules (id length, JSON metadata): a record it would refuse must be reported
  // here, or it would fail a whole batch later.
  try {
    validateDocument(doc, 0);
  } catch (e) {
    const err = e as QuiverError;
    const field =
      err.location.field === 'id' ? m.id : err.location.field === 'text' ? m.text : err.location.field;
    return bad(err.message, field);
  }
  return { ok: true, doc, location };
}

async function* jsonlItems(
  stream: AsyncIterable<Buffer | string>,
  file: string,
  mapping: FieldMapping | undefined,
): AsyncIterable<IngestItem> {
  for await (const { line, bytes } of readLines(stream)) {
    const location = { file, line };
    let text: string;
    try {
      // A UTF-8 byte order mark on line 1 is not part of the JSON.
      text = utf8.decode(
        line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes,
      );
    } catch {
      yield {
        ok: false,
        error: new QuiverError('INVALID_UTF8', `line is not valid UTF-8 (byte ${firstBadUtf8Byte(bytes)})`, {
          location,
        }),
      };
      continue;
    }
    if (text.trim() === '') continue; // blank lines separate nothing; skipping them loses nothing
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      yield {
        ok: false,
        error: new QuiverError('INVALID_JSON', `invalid JSON: ${(e as Error).message}`, { location }),
      };
      continue;
    }
    yield toDocument(raw, mapping, location);
  }
}

async function* jsonArrayItems(path: string, mapping: FieldMapping | undefined): AsyncIterable<IngestItem> {
  const size = (await stat(path)).size;
  if (size > MAX_JSON_ARRAY_BYTES) {
    throw new QuiverError(
      'LIMIT_EXCEEDED',
      `${path} is ${(size / 2 ** 20).toFixed(0)} MiB; JSON arrays are read whole (max ${MAX_JSON_ARRAY_BYTES / 2 ** 20} MiB) — convert it to JSONL (one object per line), which streams`,
      { location: { file: path } },
    );
  }
  const bytes = await readFile(path);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const at = firstBadUtf8Byte(bytes);
    const { line } = lineAt(bytes.subarray(0, at).toString('latin1'), at);
    yield {
      ok: false,
      error: new QuiverError('INVALID_UTF8', `file is not valid UTF-8 (byte ${at})`, {
        location: { file: path, line },
      }),
    };
    return;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return; // an empty file holds no documents
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    // Node 20's messages often lack the position; find it ourselves (only on this error path).
    const pos = /position (\d+)/.exec(message);
    const offset = pos ? Number(pos[1]) : jsonErrorOffset(text);
    const line = offset !== undefined ? lineAt(text, offset).line : undefined;
    yield {
      ok: false,
      error: new QuiverError('INVALID_JSON', `invalid JSON: ${message}`, {
        location: { file: path, ...(line !== undefined ? { line } : {}) },
      }),
    };
    return;
  }
  const records = Array.isArray(parsed) ? parsed : [parsed];
  for (let i = 0; i < records.length; i++) {
    // Lines are lost once parsed; the element index is precise and stable instead.
    const item = toDocument(records[i], mapping, { file: path });
    if (item.ok) yield item;
    else {
      const field = item.error.location.field;
      yield {
        ok: false,
        error: new QuiverError(item.error.code, `element ${i}: ${item.error.message}`, {
          location: { file: path, field: field ? `[${i}].${field}` : `[${i}]` },
          details: { index: i },
        }),
      };
    }
  }
}

/** Visible text of an HTML page, one line per block element; title from <title> or the first heading. */
export function htmlToDoc(html: string): { title?: string; text: string } {
  const root = parseHtml(html);
  root.querySelectorAll('script, style, noscript, template, svg').forEach((n) => n.remove());
  const clean = (t: string | undefined) => t?.replace(/\s+/g, ' ').trim() || undefined;
  const title =
    clean(root.querySelector('title')?.text) ?? clean(root.querySelector('h1, h2, h3, h4, h5, h6')?.text);
  const body = root.querySelector('body') ?? root;
  body.querySelectorAll('title, head').forEach((n) => n.remove());
  // structuredText puts block elements on their own lines and decodes entities.
  const text = body.structuredText
    .split('\n')
    .map((t) => t.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
  return { ...(title ? { title } : {}), text };
}

/** Markdown title: the first ATX `#` heading outside fenced code. */
export function markdownTitle(md: string): string | undefined {
  let fenced = false;
  for (const line of md.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m) return m[1]!.trim();
  }
  return undefined;
}

async function* walk(dir: string): AsyncIterable<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

async function* folderItems(dir: string): AsyncIterable<IngestItem> {
  const root = resolve(dir);
  for await (const path of walk(root)) {
    const ext = extname(path).toLowerCase();
    // Ids use forward slashes whatever the platform, so the same folder gives the same ids.
    const rel = relative(root, path).split(sep).join('/');
    const location = { file: path };
    if (IMAGE_EXTENSIONS.has(ext)) {
      const words = basename(path, extname(path))
        .replace(/[-_.]+/g, ' ')
        .trim();
      yield {
        ok: true,
        doc: { id: rel, title: words, text: words, metadata: { path: rel, image: path } },
        location,
      };
      continue;
    }
    if (!TEXT_EXTENSIONS.has(ext)) continue;
    const bytes = await readFile(path);
    let content: string;
    try {
      content = utf8.decode(bytes);
    } catch {
      yield { ok: false, error: new QuiverError('INVALID_UTF8', 'file is not valid UTF-8', { location }) };
      continue;
    }
    let doc: QuiverDocument;
    if (ext === '.html' || ext === '.htm') {
      const { title, text } = htmlToDoc(content);
      doc = { id: rel, text, ...(title ? { title } : {}) };
    } else if (ext === '.md' || ext === '.markdown') {
      const title = markdownTitle(content);
      doc = { id: rel, text: content, ...(title ? { title } : {}) };
    } else {
      doc = { id: rel, text: content };
    }
    doc.metadata = { path: rel, type: ext.slice(1) };
    yield { ok: true, doc, location };
  }
}

/** Open a source; the format comes from the path unless given. */
export async function* openSource(spec: SourceSpec): AsyncIterable<IngestItem> {
  if (spec.stdin || spec.path === '-') {
    yield* jsonlItems(spec.input ?? process.stdin, '<stdin>', spec.mapping);
    return;
  }
  if (!spec.path)
    throw new QuiverError('INVALID_ARGUMENT', 'a source needs a path or stdin', {
      location: { field: 'path' },
    });
  const path = resolve(spec.path);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new QuiverError('FILE_NOT_FOUND', `no such file or folder: ${spec.path}`, {
      location: { file: spec.path },
    });
  }
  let format = spec.format ?? 'auto';
  if (format === 'auto') {
    if (info.isDirectory()) format = 'folder';
    else if (/^corpus\.jsonl(\.gz)?$/.test(basename(path))) format = 'beir';
    else if (/\.json$/i.test(path)) format = 'json';
    else format = 'jsonl';
  }
  if (format === 'folder') {
    if (!info.isDirectory())
      throw new QuiverError('INVALID_ARGUMENT', `${spec.path} is not a folder`, {
        location: { file: spec.path },
      });
    yield* folderItems(path);
  } else if (format === 'json') {
    yield* jsonArrayItems(path, spec.mapping);
  } else {
    const mapping = format === 'beir' ? (spec.mapping ?? BEIR_MAPPING) : spec.mapping;
    yield* jsonlItems(openFileStream(path), spec.path, mapping);
  }
}
