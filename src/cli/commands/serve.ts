/** quiver serve | migrate */
import type { Command } from 'commander';
import { openBackend } from '../../engine/quiver.js';
import { QuiverError } from '../../errors.js';
import { migrateCollection } from '../../store/migrate.js';
import { parseIntOption, printJson } from '../common.js';

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API, the OpenAI-compatible /v1/embeddings and the web UI')
    .option('--data <dir>', 'data directory', process.env.QUIVER_DATA ?? '.quiver')
    .option('--store <url>', 'postgres://… to serve collections from Postgres', process.env.QUIVER_STORE)
    .option('--port <port>', 'port', parseIntOption('--port'), Number(process.env.PORT ?? 7700))
    .option('--host <host>', 'interface to bind (default 127.0.0.1; 0.0.0.0 needs API keys or --open)')
    .option(
      '--api-key <key>',
      'an admin API key (more keys with scopes: QUIVER_API_KEYS="key:read,write;key2:admin")',
    )
    .option('--open', 'serve without authentication (logged loudly)')
    .option('--cors <origins>', 'comma-separated allowed origins, or * ')
    .option(
      '--log-level <level>',
      'fatal, error, warn, info (default: one JSON line per request), debug, trace or silent',
    )
    .action(
      async (o: {
        data: string;
        store?: string;
        port: number;
        host?: string;
        apiKey?: string;
        open?: boolean;
        cors?: string;
        logLevel?: string;
      }) => {
        const { startServer, LOG_LEVELS } = await import('../../serve/server.js');
        const logLevel = LOG_LEVELS.find((l) => l === o.logLevel);
        if (o.logLevel !== undefined && !logLevel) {
          throw new QuiverError(
            'INVALID_ARGUMENT',
            `--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${o.logLevel}")`,
            {
              location: { field: 'log-level' },
            },
          );
        }
        await startServer({
          data: o.data,
          ...(o.store ? { store: o.store } : {}),
          port: o.port,
          ...(o.host ? { host: o.host } : {}),
          ...(o.apiKey ? { apiKey: o.apiKey } : {}),
          ...(o.open ? { open: true } : {}),
          ...(o.cors ? { cors: o.cors === '*' ? true : o.cors.split(',') } : {}),
          ...(logLevel ? { logLevel } : {}),
        });
        // startServer resolves when the server has shut down gracefully.
      },
    );

  program
    .command('migrate')
    .description(
      'copy collections between backends (data directory ⇄ postgres://…), streaming, resumable, verified',
    )
    .requiredOption('--from <dir-or-url>', 'source: a data directory or a postgres:// URL')
    .requiredOption('--to <dir-or-url>', 'target: a data directory or a postgres:// URL')
    .option('--collection <names>', 'comma-separated collections (default: all)')
    .option('--batch-size <n>', 'documents per batch', parseIntOption('--batch-size'), 500)
    .option('--json', 'print the verification report as JSON')
    .action(
      async (o: { from: string; to: string; collection?: string; batchSize: number; json?: boolean }) => {
        const side = (s: string) => (/^postgres(ql)?:\/\//.test(s) ? { store: s } : { data: s });
        const from = await openBackend(side(o.from));
        const to = await openBackend(side(o.to));
        try {
          const names = o.collection ? o.collection.split(',') : await from.listCollections();
          const reports = [];
          for (const name of names) {
            const r = await migrateCollection(from, to, name, { batchSize: o.batchSize, resume: true });
            reports.push({ collection: name, ...r });
            if (!o.json) process.stdout.write(`migrated "${name}": ${JSON.stringify(r)}\n`);
          }
          if (o.json) printJson(reports);
        } finally {
          await from.close();
          await to.close();
        }
      },
    );
}
