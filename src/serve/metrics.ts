/**
 * Prometheus metrics in the text exposition format: request latency histograms per route,
 * request counts by status, embedding throughput, index sizes. Hand-written because it is small.
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  private readonly latency = new Map<string, Histogram>();
  private readonly requests = new Map<string, number>();
  embeddedTexts = 0;
  embeddedTokens = 0;
  embeddedSeconds = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let h = this.latency.get(key);
    if (!h) this.latency.set(key, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) h!.counts[i]!++;
    });
    h.sum += seconds;
    h.count++;
    const rk = `${method}\u0000${route}\u0000${status}`;
    this.requests.set(rk, (this.requests.get(rk) ?? 0) + 1);
  }

  render(
    gauges: { name: string; help: string; values: { labels: Record<string, string>; value: number }[] }[],
  ): string {
    const out: string[] = [];
    out.push('# HELP quiver_http_request_duration_seconds HTTP request latency.');
    out.push('# TYPE quiver_http_request_duration_seconds histogram');
    for (const [key, h] of this.latency) {
      const [method, route] = key.split(' ') as [string, string];
      const l = `method="${esc(method)}",route="${esc(route)}"`;
      BUCKETS.forEach((b, i) =>
        out.push(`quiver_http_request_duration_seconds_bucket{${l},le="${b}"} ${h.counts[i]}`),
      );
      out.push(`quiver_http_request_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
      out.push(`quiver_http_request_duration_seconds_sum{${l}} ${h.sum}`);
      out.push(`quiver_http_request_duration_seconds_count{${l}} ${h.count}`);
    }
    out.push('# HELP quiver_http_requests_total HTTP requests by status.');
    out.push('# TYPE quiver_http_requests_total counter');
    for (const [k, v] of this.requests) {
      const [method, route, status] = k.split('\u0000') as [string, string, string];
      out.push(
        `quiver_http_requests_total{method="${esc(method)}",route="${esc(route)}",status="${status}"} ${v}`,
      );
    }
    out.push('# HELP quiver_embedded_texts_total Texts embedded through the API.');
    out.push('# TYPE quiver_embedded_texts_total counter');
    out.push(`quiver_embedded_texts_total ${this.embeddedTexts}`);
    out.push(
      '# HELP quiver_embedded_tokens_total Tokens embedded through the API (prompt prefixes included).',
    );
    out.push('# TYPE quiver_embedded_tokens_total counter');
    out.push(`quiver_embedded_tokens_total ${this.embeddedTokens}`);
    out.push('# HELP quiver_embed_seconds_total Time spent embedding through the API.');
    out.push('# TYPE quiver_embed_seconds_total counter');
    out.push(`quiver_embed_seconds_total ${this.embeddedSeconds}`);
    for (const g of gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const v of g.values) {
        const labels = Object.entries(v.labels)
          .map(([k, x]) => `${k}="${esc(x)}"`)
          .join(',');
        out.push(`${g.name}{${labels}} ${v.value}`);
      }
    }
    out.push(
      `# HELP process_resident_memory_bytes Resident memory.`,
      '# TYPE process_resident_memory_bytes gauge',
    );
    out.push(`process_resident_memory_bytes ${process.memoryUsage().rss}`);
    return `${out.join('\n')}\n`;
  }
}
