/**
 * Metadata filters translated to parameterised SQL over `metadata jsonb` — never string-built from
 * user input: field paths and values go in as bind parameters; only operators we generate
 * ourselves become SQL text. Semantics match the in-memory evaluator (src/retrieve/filter.ts):
 * equality on an array means "contains"; ranges compare numbers, or ISO dates as timestamps.
 */
import { QuiverError } from '../../errors.js';
import type { CompiledFilter } from '../../retrieve/filter.js';
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

/**
 * What the in-memory evaluator compares a range bound as: numbers as numbers, ISO-looking date
 * strings as epoch milliseconds (so numbers and dates share one ordering, as in JavaScript), other
 * strings as strings. Computed here, in JavaScript, so the database never parses the bound.
 */
function comparableBound(v: number | string): number | string {
  if (typeof v === 'number') return v;
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  return v;
}

/**
 * The jsonb at a dotted path. Like the evaluator, a path only descends through objects: without
 * the guard, `#>` would read `tags.0` as the first element of an array.
 */
function pathValue(doc: string, path: string[], p: Params): string {
  const full = `(${doc}.metadata #> ${p.add(path)}::text[])`;
  if (path.length < 2 || !path.slice(1).some((part) => /^-?\d+$/.test(part))) return full;
  const guards = path
    .slice(1)
    .map((_, i) => `jsonb_typeof(${doc}.metadata #> ${p.add(path.slice(0, i + 1))}::text[]) = 'object'`);
  return `(CASE WHEN ${guards.join(' AND ')} THEN ${full} END)`;
}

/** SQL for one field condition; `doc` is the docs table alias. */
function fieldSql(doc: string, field: string, cond: unknown, p: Params): string {
  const path = field.split('.');
  const value = field === 'id' ? `to_jsonb(${doc}.id)` : pathValue(doc, path, p);
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
        // Any element of an array, or the scalar itself, may satisfy the range. quiver_comparable
        // (migration 2) maps an element to a number (numbers; valid ISO dates as epoch ms) or NULL,
        // and never raises on odd data, so one malformed date cannot fail every query.
        const elems = `jsonb_array_elements(CASE jsonb_typeof(${value}) WHEN 'array' THEN ${value} ELSE jsonb_build_array(${value}) END)`;
        const bound = comparableBound(arg as number | string);
        if (typeof bound === 'number') {
          parts.push(
            `EXISTS (SELECT 1 FROM ${elems} e WHERE quiver_comparable(e) ${sqlOp} ${p.add(bound)}::numeric)`,
          );
        } else {
          // Plain strings compare in code-unit order, as in JavaScript, whatever the server's collation.
          parts.push(
            `EXISTS (SELECT 1 FROM ${elems} e WHERE jsonb_typeof(e) = 'string' AND quiver_comparable(e) IS NULL AND (e #>> '{}') COLLATE "C" ${sqlOp} ${p.add(bound)}::text COLLATE "C")`,
          );
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

/**
 * How an in-database index applies a filter. Enumerated passage keys (the engine sends them for
 * selective filters) are authoritative and need no join; otherwise the filter's AST is evaluated
 * against quiver_docs, joined on `on(alias)`. An empty filter adds nothing.
 */
export function filterClause(
  filter: CompiledFilter | undefined,
  keyAlias: string,
  p: Params,
  on: (docAlias: string) => string,
): { join: string; filter: string } {
  if (!filter) return { join: '', filter: '' };
  if (filter.allowedKeys)
    return { join: '', filter: `AND ${keyAlias}.key = ANY(${p.add(filter.allowedKeys)}::bigint[])` };
  if (Object.keys(filter.ast as object).length === 0) return { join: '', filter: '' };
  return { join: `JOIN quiver_docs d ON ${on('d')}`, filter: `AND ${filterToSql(filter.ast, 'd', p)}` };
}
