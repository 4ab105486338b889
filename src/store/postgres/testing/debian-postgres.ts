/**
 * A throwaway stock PostgreSQL server (Debian's, /usr/lib/postgresql/<v>/bin) in a temp directory,
 * on a free loopback port, for tests that want a real server process rather than PGlite's WASM
 * build: native collations, time zones and the planner. It has no pgvector, so it serves the
 * parts of the backend that do not need it (schema, filters, transactions).
 *
 * initdb refuses to run as root; when we are root the server runs as the `postgres` user.
 * Returns undefined when no Debian PostgreSQL is installed, so callers can skip.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MIGRATIONS } from '../postgres-backend.js';

export interface DebianPostgres {
  url: string;
  stop(): Promise<void>;
}

function findBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** uid/gid of the postgres user when we are root (initdb will not run as root). */
function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export async function startDebianPostgres(): Promise<DebianPostgres | undefined> {
  const bin = findBin();
  if (!bin) return undefined;
  let ids: { uid: number; gid: number } | undefined;
  try {
    ids = postgresIds();
  } catch {
    return undefined; // root without a postgres user: cannot run initdb
  }
  const dir = mkdtempSync(join(tmpdir(), 'quiver-pg15-'));
  const data = join(dir, 'data');
  if (ids) {
    chownSync(dir, ids.uid, ids.gid);
    chmodSync(dir, 0o700);
  }
  const asPg = ids ? { uid: ids.uid, gid: ids.gid } : {};
  // An ICU English collation and a non-UTC time zone on purpose: filters must not depend on the
  // server's collation ('B' < 'a' in JavaScript, not in English) or on its time zone.
  const initdb = [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--locale-provider=icu',
    '--icu-locale=en',
  ];
  execFileSync(join(bin, 'initdb'), initdb, {
    ...asPg,
    stdio: 'ignore',
  });
  // Tests start servers in parallel: a port found free may be taken by another server before ours
  // binds it, and then "our" URL would reach that server (and die when its test stops it). So the
  // server must prove it is ours (its data directory), else it is started again on another port.
  let child: ChildProcess | undefined;
  let url = '';
  for (let attempt = 0; !child; attempt++) {
    const port = await freePort();
    const candidate: ChildProcess = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'TimeZone=America/New_York',
      ],
      { ...asPg, stdio: 'ignore' },
    );
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 20_000;
    let ours = false;
    for (;;) {
      // Wait until it accepts connections, or exits (the port was taken).
      if (candidate.exitCode !== null) break;
      const c = new pg.Client({ connectionString: url });
      try {
        await c.connect();
        const r = await c.query<{ data_directory: string }>('SHOW data_directory');
        await c.end();
        ours = r.rows[0]!.data_directory === data;
        break;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) {
          candidate.kill('SIGKILL');
          rmSync(dir, { recursive: true, force: true });
          throw e;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (ours) child = candidate;
    else {
      candidate.kill('SIGKILL');
      await new Promise((r) => (candidate.exitCode !== null ? r(undefined) : candidate.once('exit', r)));
      if (attempt >= 4) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error('could not start a Debian PostgreSQL test server on a free port');
      }
    }
  }
  const server = child;
  return {
    url,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGINT'); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (server.exitCode === null) server.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Two connection pools on a fresh Debian PostgreSQL with Quiver's schema applied — two engine
 * processes' worth of connections, for tests of concurrent writers. Undefined when no server is
 * installed.
 */
export async function twoWritersOnDebianPostgres(): Promise<
  { pools: [pg.Pool, pg.Pool]; stop(): Promise<void> } | undefined
> {
  const server = await startDebianPostgres();
  if (!server) return undefined;
  const url = server.url.replace(/\?.*$/, '');
  const pools: [pg.Pool, pg.Pool] = [
    new pg.Pool({ connectionString: url, max: 2 }),
    new pg.Pool({ connectionString: url, max: 2 }),
  ];
  // An idle client whose connection dies must not crash the test run from an unhandled event;
  // a query on it fails instead, where the test sees it.
  for (const p of pools) p.on('error', () => undefined);
  const setup = await pools[0].connect();
  await setup.query('BEGIN');
  for (const m of MIGRATIONS) await setup.query(m.sql);
  await setup.query('COMMIT');
  setup.release();
  return {
    pools,
    async stop() {
      await Promise.all(pools.map((p) => p.end()));
      await server.stop();
    },
  };
}
