/**
 * Progress for long ingests and evaluations: a bar with rate and ETA on a terminal, a plain line
 * every few seconds (and at the end) otherwise, so logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advance by n. */
  tick(n?: number): void;
  /** Set the absolute count. */
  update(done: number): void;
  setTotal(total: number): void;
  setLabel(label: string): void;
  done(summary?: string): void;
}

export interface ProgressOptions {
  label: string;
  total?: number;
  unit?: string;
  /** Where to draw (default process.stderr, so stdout stays clean for --json output). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Seconds between plain lines when not on a terminal. */
  interval?: number;
  /** true: plain lines; false: the bar; default: the bar on a terminal (outside CI). */
  plain?: boolean;
}

function fmtRate(r: number): string {
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const unit = opts.unit ?? 'items';
  let label = opts.label;
  let total = opts.total;
  let count = 0;
  const started = Date.now();
  // CI logs are not terminals even when they claim to be; `plain` overrides the guess either way.
  const tty = opts.plain === undefined ? stream.isTTY === true && process.env.CI !== 'true' : !opts.plain;

  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `{label} |{bar}| {value}/{total} ${unit} · {rate}/s · ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, 0, { label, rate: '0' });
    const payload = () => ({ label, rate: fmtRate(count / Math.max(0.001, (Date.now() - started) / 1000)) });
    return {
      tick(n = 1) {
        count += n;
        if (total === undefined || count > total) bar.setTotal(count);
        bar.update(count, payload());
      },
      update(d) {
        count = d;
        if (total === undefined || count > total) bar.setTotal(count);
        bar.update(count, payload());
      },
      setTotal(t) {
        total = t;
        bar.setTotal(t);
      },
      setLabel(l) {
        label = l;
        count = 0;
        bar.update(0, payload());
      },
      done(summary) {
        bar.stop();
        if (summary) stream.write(`${label}: ${summary}\n`);
      },
    };
  }

  const interval = (opts.interval ?? 5) * 1000;
  let lastLine = Date.now();
  const line = () => {
    const secs = (Date.now() - started) / 1000;
    const rate = count / Math.max(0.001, secs);
    const of = total !== undefined ? `/${total}` : '';
    const eta =
      total !== undefined && rate > 0 ? `, ETA ${Math.max(0, (total - count) / rate).toFixed(0)} s` : '';
    stream.write(`${label}: ${count}${of} ${unit} (${fmtRate(rate)}/s${eta})\n`);
    lastLine = Date.now();
  };
  const maybe = () => {
    if (Date.now() - lastLine >= interval) line();
  };
  return {
    tick(n = 1) {
      count += n;
      maybe();
    },
    update(d) {
      count = d;
      maybe();
    },
    setTotal(t) {
      total = t;
    },
    setLabel(l) {
      label = l;
      count = 0;
    },
    done(summary) {
      if (count > 0 || summary) line();
      if (summary) stream.write(`${label}: ${summary}\n`);
    },
  };
}
