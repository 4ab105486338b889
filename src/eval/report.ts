/**
 * Aligned text tables for the CLI: one row per run/method, one column per metric.
 * Text columns are left-aligned, numeric columns right-aligned; fractions get a fixed number of
 * decimals (or are shown ×100 with `percent`), integers are printed as integers.
 */

export type MetricsRow = Record<string, string | number | undefined>;

export interface MetricsTableOptions {
  /** Column order (default: keys in order of first appearance). */
  columns?: string[];
  /** Decimals for non-integer numbers (default 4, or 2 with `percent`). */
  digits?: number;
  /** Show non-integer numbers ×100 (nDCG 0.6789 → 67.89). */
  percent?: boolean;
}

export function formatMetricsTable(rows: MetricsRow[], opts: MetricsTableOptions = {}): string {
  const columns = opts.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (columns.length === 0) return '';
  const digits = opts.digits ?? (opts.percent ? 2 : 4);
  const numeric = columns.map(
    (c) =>
      rows.some((r) => typeof r[c] === 'number') &&
      rows.every((r) => r[c] === undefined || typeof r[c] === 'number'),
  );
  const fmt = (v: string | number | undefined): string => {
    if (v === undefined) return '-';
    if (typeof v === 'string') return v;
    if (Number.isNaN(v)) return 'NaN';
    if (Number.isInteger(v)) return String(v);
    return (opts.percent ? v * 100 : v).toFixed(digits);
  };
  const cells = rows.map((r) => columns.map((c) => fmt(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((s, i) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
