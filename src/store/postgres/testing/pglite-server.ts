/**
 * A real Postgres (PGlite: Postgres compiled to WASM, with pgvector) behind the Postgres wire
 * protocol (pglite-socket) on a loopback port, reached with the ordinary `pg` client — the same
 * code path as a production server. `restart()` drops every connection and comes back on the same
 * port with the same data, for failure tests.
 */
import { createServer } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { pg_textsearch } from '@electric-sql/pglite-pg_textsearch';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface PgliteServer {
  /** postgres:// URL with pool=1 (PGlite is a single session). */
  url: string;
  stop(): Promise<void>;
  restart(downMs?: number): Promise<void>;
}

export async function startPgliteServer(): Promise<PgliteServer> {
  const db = await PGlite.create({ extensions: { vector, pg_textsearch } });
  const port = await freePort();
  let server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 8 });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres?pool=1`,
    async stop() {
      await server.stop();
      await db.close();
    },
    async restart(downMs = 300) {
      await server.stop();
      await new Promise((r) => setTimeout(r, downMs));
      server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 8 });
      await server.start();
    },
  };
}
