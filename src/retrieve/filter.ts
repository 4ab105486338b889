/**
 * Metadata filters: validated once, compiled to a predicate, and handed to every retriever so
 * filtering happens inside retrieval (candidates that fail are never scored into the top-k),
 * not by post-filtering a list that may then be too short.
 *
 * Backends that evaluate filters themselves (Postgres) read `ast`; embedded indexes call
 * `allows(key)`, which the engine binds to its in-memory metadata table.
 */
import { QuiverError } from '../errors.js';
import type { FieldCondition, Filter, FilterValue, JsonValue, Metadata } from '../types.js';

export interface FilterTarget {
  id: string;
  metadata?: Metadata | undefined;
}

export interface CompiledFilter {
  readonly ast: Filter;
  /** Evaluate against one document. */
  test(doc: FilterTarget): boolean;
  /** Bound by the engine for embedded indexes: may this passage key be returned? */
  allows?: (key: number) => boolean;
  /** Fraction of passages allowed (0..1), when the engine measured it. */
  selectivity?: number;
  /** Allowed passage keys, when the engine enumerated them (selective filters). */
  allowedKeys?: number[];
}

const OPERATORS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists']);
const MAX_DEPTH = 32;

function bad(message: string, field: string): never {
  throw new QuiverError('INVALID_FILTER', message, { location: { field } });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPrimitive(v: unknown): v is FilterValue {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

/** Read a dotted path ("source.path") from metadata; `id` reads the document id. */
export function readField(doc: FilterTarget, path: string): JsonValue | undefined {
  if (path === 'id') return doc.id;
  let cur: JsonValue | undefined = doc.metadata;
  for (const part of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = (cur as Record<string, JsonValue>)[part];
  }
  return cur;
}

/** Numbers compare as numbers; ISO-looking date strings compare as timestamps; else strings. */
function comparable(v: unknown): number | string | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) return t;
    }
    return v;
  }
  return undefined;
}

function equals(actual: JsonValue | undefined, expected: FilterValue): boolean {
  // A metadata array matches when any element equals (tags: ["a", "b"] matches {"tags": "a"}).
  if (Array.isArray(actual)) return actual.some((a) => a === expected);
  return actual === expected;
}

function compare(actual: JsonValue | undefined, op: string, bound: number | string): boolean {
  const values = Array.isArray(actual) ? actual : [actual];
  const b = comparable(bound);
  return values.some((v) => {
    const a = comparable(v);
    if (a === undefined || b === undefined || typeof a !== typeof b) return false;
    switch (op) {
      case '$gt':
        return a > b;
      case '$gte':
        return a >= b;
      case '$lt':
        return a < b;
      default:
        return a <= b;
    }
  });
}

type Predicate = (doc: FilterTarget) => boolean;

function compileCondition(field: string, cond: unknown): Predicate {
  if (isPrimitive(cond)) return (d) => equals(readField(d, field), cond);
  if (!isPlainObject(cond)) bad(`filter on "${field}" must be a value or an operator object`, field);
  const preds: Predicate[] = [];
  for (const [op, arg] of Object.entries(cond)) {
    if (!OPERATORS.has(op)) bad(`unknown operator "${op}" (use one of ${[...OPERATORS].join(', ')})`, field);
    switch (op) {
      case '$eq':
      case '$ne': {
        if (!isPrimitive(arg)) bad(`${op} takes a string, number, boolean or null`, field);
        preds.push(
          op === '$eq' ? (d) => equals(readField(d, field), arg) : (d) => !equals(readField(d, field), arg),
        );
        break;
      }
      case '$in':
      case '$nin': {
        if (!Array.isArray(arg) || !arg.every(isPrimitive)) bad(`${op} takes an array of values`, field);
        const set = arg as FilterValue[];
        const inSet: Predicate = (d) => set.some((v) => equals(readField(d, field), v));
        preds.push(op === '$in' ? inSet : (d) => !inSet(d));
        break;
      }
      case '$exists': {
        if (typeof arg !== 'boolean') bad('$exists takes true or false', field);
        preds.push((d) => (readField(d, field) !== undefined) === arg);
        break;
      }
      default: {
        if (typeof arg !== 'number' && typeof arg !== 'string')
          bad(`${op} takes a number or a date string`, field);
        preds.push((d) => compare(readField(d, field), op, arg));
      }
    }
  }
  if (preds.length === 0) bad(`empty condition on "${field}"`, field);
  return (d) => preds.every((p) => p(d));
}

function compileNode(node: unknown, path: string, depth: number): Predicate {
  if (depth > MAX_DEPTH) bad(`filter nested deeper than ${MAX_DEPTH} levels`, path);
  if (!isPlainObject(node)) bad('a filter must be an object', path || 'filter');
  const preds: Predicate[] = [];
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) bad(`${key} takes a non-empty array of filters`, here);
      const parts = value.map((v, i) => compileNode(v, `${here}[${i}]`, depth + 1));
      preds.push(key === '$and' ? (d) => parts.every((p) => p(d)) : (d) => parts.some((p) => p(d)));
    } else if (key === '$not') {
      const inner = compileNode(value, here, depth + 1);
      preds.push((d) => !inner(d));
    } else if (key.startsWith('$')) {
      bad(`unknown operator "${key}" at the top of a filter (use $and, $or, $not or a field name)`, here);
    } else {
      if (key.length === 0) bad('empty field name', here);
      preds.push(compileCondition(key, value as FieldCondition | FilterValue));
    }
  }
  if (preds.length === 0) return () => true;
  return preds.length === 1 ? preds[0]! : (d) => preds.every((p) => p(d));
}

/** Validate and compile a filter. Throws INVALID_FILTER naming the offending field. */
export function compileFilter(filter: unknown): CompiledFilter {
  const test = compileNode(filter, '', 0);
  return { ast: filter as Filter, test };
}

/** Parse a filter given on the command line: JSON, or shorthand "field=value". */
export function parseFilterArg(arg: string): Filter {
  const trimmed = arg.trim();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as Filter;
    } catch (e) {
      throw new QuiverError('INVALID_FILTER', `--filter is not valid JSON: ${(e as Error).message}`, {
        location: { field: 'filter' },
      });
    }
  }
  const eq = trimmed.indexOf('=');
  if (eq <= 0) {
    throw new QuiverError('INVALID_FILTER', `--filter "${arg}" is neither JSON nor field=value`, {
      location: { field: 'filter' },
    });
  }
  const field = trimmed.slice(0, eq);
  const raw = trimmed.slice(eq + 1);
  const num = Number(raw);
  const value: FilterValue =
    raw === 'true' ? true : raw === 'false' ? false : raw !== '' && !Number.isNaN(num) ? num : raw;
  return { [field]: value };
}
