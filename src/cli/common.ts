/** Helpers shared by the CLI commands: data/store options, opening the engine, printing. */
import type { Command } from 'commander';
import { Quiver } from '../engine/quiver.js';
import { QuiverError } from '../errors.js';

export interface StoreOptions {
  data?: string;
  store?: string;
}

/** Every command that touches collections takes the same two options. */
export function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data directory of the embedded store', process.env.QUIVER_DATA ?? '.quiver')
    .option(
      '--store <url>',
      'postgres://… to use a Postgres backend instead of the data directory',
      process.env.QUIVER_STORE,
    );
}

export async function withQuiver<T>(opts: StoreOptions, fn: (q: Quiver) => Promise<T>): Promise<T> {
  const quiver = await Quiver.open({
    ...(opts.data ? { data: opts.data } : {}),
    ...(opts.store ? { store: opts.store } : {}),
  });
  try {
    return await fn(quiver);
  } finally {
    await quiver.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function parseIntOption(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n)) {
      throw new QuiverError('INVALID_ARGUMENT', `${name} must be an integer (got "${raw}")`, {
        location: { field: name },
      });
    }
    return n;
  };
}

export function parseFloatOption(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n)) {
      throw new QuiverError('INVALID_ARGUMENT', `${name} must be a number (got "${raw}")`, {
        location: { field: name },
      });
    }
    return n;
  };
}

/** An aligned text table: first row is the header. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(cells[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  return out.join('\n');
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) < 1 ? n.toFixed(4) : n.toFixed(2);
}

/** Shorten text for a terminal cell. */
export function clip(s: string, n: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length <= n ? flat : `${flat.slice(0, n - 1)}…`;
}
