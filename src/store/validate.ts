/**
 * Document validation shared by every backend: a batch is checked whole before anything is
 * written, so a bad document never leaves a batch half-stored.
 */
import { QuiverError } from '../errors.js';
import type { QuiverDocument } from '../types.js';

export const MAX_ID_LENGTH = 512;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export function validateDocument(doc: unknown, index: number): asserts doc is QuiverDocument {
  const at = (field: string) => ({ location: { field: `documents[${index}].${field}` } });
  if (!isPlainObject(doc)) throw new QuiverError('INVALID_DOCUMENT', `document ${index} is not an object`, at('')); 
  const { id, text, title, metadata } = doc;
  if (typeof id !== 'string' || id.length === 0) {
    throw new QuiverError('INVALID_DOCUMENT', `document ${index}: id must be a non-empty string`, at('id'));
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new QuiverError('INVALID_DOCUMENT', `document "${id.slice(0, 40)}…": id is longer than ${MAX_ID_LENGTH}`, at('id'));
  }
  if (typeof text !== 'string') {
    throw new QuiverError('INVALID_DOCUMENT', `document "${id}": text must be a string`, at('text'));
  }
  if (title !== undefined && title !== null && typeof title !== 'string') {
    throw new QuiverError('INVALID_DOCUMENT', `document "${id}": title must be a string`, at('title'));
  }
  if (metadata !== undefined && metadata !== null && !isPlainObject(metadata)) {
    throw new QuiverError('INVALID_DOCUMENT', `document "${id}": metadata must be a JSON object`, at('metadata'));
  }
}

export function validateBatch(docs: unknown[]): QuiverDocument[] {
  if (!Array.isArray(docs)) throw new QuiverError('INVALID_DOCUMENT', 'documents must be an array');
  docs.forEach((d, i) => validateDocument(d, i));
  // Within one batch the last occurrence of an id wins, as if upserted one after another.
  const last = new Map<string, QuiverDocument>();
  for (const d of docs as QuiverDocument[]) last.set(d.id, d);
  return [...last.values()];
}

/** Float32Array ⇄ bytes, bit-exact, little-endian as stored by every backend. */
export function vectorToBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function bytesToVector(b: Uint8Array): Float32Array {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
