/**
 * The engine's in-memory view of which documents exist: key → id, metadata and chunk count.
 * Embedded indexes evaluate filters against it (`CompiledFilter.allows`) so filtering happens
 * inside retrieval, and it tells which passage keys an updated document used to have.
 * It is derived from the store of record and rebuilt on open.
 */
import type { CompiledFilter } from '../retrieve/filter.js';
import type { Metadata } from '../types.js';
import { docKeyOf, passageKey } from '../types.js';

interface DocEntry {
  id: string;
  metadata: Metadata | undefined;
  chunks: number;
}

/** Below this fraction of allowed documents, vector search goes exact over the allowed set. */
const SELECTIVE_FRACTION = 0.02;
const SELECTIVE_MAX_PASSAGES = 20_000;

export class DocTable {
  private readonly byKey = new Map<number, DocEntry>();
  private passageCount = 0;

  get size(): number {
    return this.byKey.size;
  }

  get passages(): number {
    return this.passageCount;
  }

  set(key: number, id: string, metadata: Metadata | undefined, chunks: number): void {
    const old = this.byKey.get(key);
    if (old) this.passageCount -= old.chunks;
    this.byKey.set(key, { id, metadata, chunks });
    this.passageCount += chunks;
  }

  delete(key: number): void {
    const old = this.byKey.get(key);
    if (!old) return;
    this.passageCount -= old.chunks;
    this.byKey.delete(key);
  }

  get(key: number): DocEntry | undefined {
    return this.byKey.get(key);
  }

  /** The passage keys a document has now (chunk 0 … chunks-1). */
  passageKeys(docKey: number): number[] {
    const e = this.byKey.get(docKey);
    if (!e) return [];
    return Array.from({ length: e.chunks }, (_, i) => passageKey(docKey, i));
  }

  entries(): IterableIterator<[number, DocEntry]> {
    return this.byKey.entries();
  }

  /**
   * Bind a compiled filter to this table: `allows(passageKey)` and, for selective filters, the
   * enumerated allowed passage keys so vector search can go exact over them.
   */
  bind(filter: CompiledFilter): CompiledFilter {
    const allowedDocs = new Set<number>();
    let allowedPassages = 0;
    for (const [key, e] of this.byKey) {
      if (filter.test({ id: e.id, metadata: e.metadata })) {
        allowedDocs.add(key);
        allowedPassages += e.chunks;
      }
    }
    const total = Math.max(1, this.passageCount);
    const selectivity = allowedPassages / total;
    const bound: CompiledFilter = {
      ...filter,
      allows: (pk: number) => allowedDocs.has(docKeyOf(pk)),
      selectivity,
    };
    if (
      selectivity <= SELECTIVE_FRACTION ||
      allowedPassages <= Math.min(SELECTIVE_MAX_PASSAGES, total / 10)
    ) {
      const keys: number[] = [];
      for (const dk of allowedDocs) keys.push(...this.passageKeys(dk));
      bound.allowedKeys = keys;
    }
    return bound;
  }

  /** Value counts of metadata fields, for facets in the UI. */
  facets(fields: string[] | undefined, limit: number): Record<string, { value: string; count: number }[]> {
    const counts = new Map<string, Map<string, number>>();
    for (const e of this.byKey.values()) {
      if (!e.metadata) continue;
      for (const [field, raw] of Object.entries(e.metadata)) {
        if (fields && !fields.includes(field)) continue;
        const values = Array.isArray(raw) ? raw : [raw];
        for (const v of values) {
          if (v === null || typeof v === 'object') continue;
          const s = String(v);
          if (s.length > 200) continue;
          let m = counts.get(field);
          if (!m) counts.set(field, (m = new Map()));
          m.set(s, (m.get(s) ?? 0) + 1);
        }
      }
    }
    const out: Record<string, { value: string; count: number }[]> = {};
    for (const [field, m] of counts) {
      // A field where almost every value is unique (ids, paths) is not a facet.
      if (!fields && m.size > 50 && m.size > this.byKey.size * 0.5) continue;
      out[field] = [...m.entries()]
        .map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value))
        .slice(0, limit);
    }
    return out;
  }
}
