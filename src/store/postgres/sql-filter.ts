/**
 * Metadata filters translated to parameterised SQL over `metadata jsonb` — never string-built from
 * user input: field paths and values go in as bind parameters; only operators we generate
 * ourselves become SQL text. Semantics match the in-memory evaluator (src/retrieve/filter.ts):
 * equality on an array means "contains"; ranges compare numbers, or ISO dates as timestamps.
 */
import { QuiverError } from '../../errors.js';
import type { Filter, FilterValue } from '../../types.js';

export class Params {
  readonly values: unknown[] = [];
  constructor(offset = 0) {
    this.offset = offset;
  }
  private readonly offset: number;
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.offset + this.values.length}`;
  }
}

const isDate = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v));

/** SQL for one field condition; `doc` is the docs table alias. */
function fieldSql(doc: string, field: string, cond: unknown, p: Params): string {
  const path = field.split('.');
  const value = field === 'id' ? `to_jsonb(${doc}.id)` : `(${doc}.metadata #> ${p.add(path)}::text[])`;
  const contains = (v: FilterValue) => `COALESCE(${value} @> ${p.add(JSON.stringify(v))}::jsonb, false)`;
  if (cond === null || typeof cond !== 'object') return contains(cond as FilterValue);
  const parts: string[] = [];
  for (const [op, arg] of Object.entries(cond as Record<string, unknown>)) {
    switch (op) {
      case '$eq':
        parts.push(contains(arg as FilterValue));
        break;
      case '$ne':
        parts.push(`NOT ${contains(arg as FilterValue)}`);
        break;
      case '$in':
        parts.push(`(${(arg as FilterValue[]).map(contains).join(' OR ') || 'false'})`);
        break;
      case '$nin':
        parts.push(`NOT (${(arg as FilterValue[]).map(contains).join(' OR ') || 'false'})`);
        break;
      case '$exists':
        parts.push(arg ? `${value} IS NOT NULL` : `${value} IS NULL`);
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        const sqlOp = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op];
        // Any element of an array, or the scalar itself, may satisfy the range.
        const elems = `jsonb_array_elements(CASE jsonb_typeof(${value}) WHEN 'array' THEN ${value} ELSE jsonb_build_array(${value}) END)`;
        if (typeof arg === 'number') {
          parts.push(`EXISTS (SELECT 1 FROM ${elems} e WHERE jsonb_typeof(e) = 'number' AND (e)::text::numeric ${sqlOp} ${p.add(arg)}::numeric)`);
        } else if (isDate(arg)) {
          parts.push(
            `EXISTS (SELECT 1 FROM ${elems} e WHERE jsonb_typeof(e) = 'string' AND (e #>> '{}') ~ '^\\d{4}-\\d{2}-\\d{2}' AND (e #>> '{}')::timestamptz ${sqlOp} ${p.add(arg)}::timestamptz)`,
          );
        } else {
          parts.push(`EXISTS (SELECT 1 FROM ${elems} e WHERE jsonb_typeof(e) = 'string' AND (e #>> '{}') ${sqlOp} ${p.add(String(arg))})`);
        }
        break;
      }
      default:
        throw new QuiverError('INVALID_FILTER', `unknown operator "${op}"`, { location: { field } });
    }
  }
  return parts.length ? `(${parts.join(' AND ')})` : 'true';
}

/** A validated filter (see compileFilter) as a SQL boolean expression. */
export function filterToSql(filter: Filter, doc: string, p: Params): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(filter as Record<string, unknown>)) {
    if (key === '$and' || key === '$or') {
      const inner = (value as Filter[]).map((f) => filterToSql(f, doc, p));
      parts.push(`(${inner.join(key === '$and' ? ' AND ' : ' OR ')})`);
    } else if (key === '$not') {
      parts.push(`NOT (${filterToSql(value as Filter, doc, p)})`);
    } else {
      parts.push(fieldSql(doc, key, value, p));
    }
  }
  return parts.length ? parts.join(' AND ') : 'true';
}
