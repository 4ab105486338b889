import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { DEFAULT_COLLECTION_CONFIG } from '../../types.js';
import { runStoreConformance } from '../store.conformance.js';
import { openSqliteBackend, SCHEMA_VERSION, STORE_FILE } from './sqlite-backend.js';
import { expectedText } from './testing/crash-docs.js';

runStoreConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-sqlite-conf-'));
  const backend = await openSqliteBackend(dir);
  return { backend, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('sqlite backend specifics', () => {
  it('keeps a collection in <dataDir>/<name>/store.sqlite, WAL and versioned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-sqlite-'));
    try {
      const backend = await openSqliteBackend(join(dir, 'nested', 'data'));
      const store = await backend.createCollection('docs', DEFAULT_COLLECTION_CONFIG);
      await store.upsert([{ id: 'a', text: 'a' }]);
      const file = join(backend.indexDir('docs'), STORE_FILE);
      assert.equal(backend.indexDir('docs'), join(dir, 'nested', 'data', 'docs'));
      assert.ok(existsSync(file));
      const raw = new Database(file, { readonly: true });
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(raw.prepare('SELECT schema_version FROM schema').pluck().get(), SCHEMA_VERSION);
      raw.close();
      await backend.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a store written by a newer schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-sqlite-'));
    try {
      const backend = await openSqliteBackend(dir);
      await (await backend.createCollection('c', DEFAULT_COLLECTION_CONFIG)).close();
      const raw = new Database(join(dir, 'c', STORE_FILE));
      raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      raw.close();
      await assert.rejects(
        backend.openCollection('c'),
        (e: Error & { code?: string }) => e.code === 'STORE_ERROR',
      );
      await backend.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('migrates a version-1 store (before sparse vectors) in place, keeping its documents', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-sqlite-'));
    try {
      const backend = await openSqliteBackend(dir);
      const store = await backend.createCollection('old', DEFAULT_COLLECTION_CONFIG);
      await store.upsert([{ id: 'a', text: 'kept', metadata: { n: 1 } }]);
      await store.close();
      // Make it what a v1 Quiver wrote: no sparse column, user_version 1.
      const raw = new Database(join(dir, 'old', STORE_FILE));
      raw.exec('ALTER TABLE docs DROP COLUMN sparse; UPDATE schema SET schema_version = 1');
      raw.pragma('user_version = 1');
      raw.close();
      const again = await backend.openCollection('old');
      assert.deepEqual((await again.get(['a']))[0]!.metadata, { n: 1 });
      await again.upsert([{ id: 'b', text: 'new', sparse: { s: { x: 1 } } }]);
      assert.deepEqual((await again.get(['b']))[0]!.sparse, { s: { x: 1 } });
      await again.close();
      const check = new Database(join(dir, 'old', STORE_FILE), { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      check.close();
      await backend.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sees writes made by another connection (another process) to the same collection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-sqlite-'));
    try {
      const one = await openSqliteBackend(dir);
      const two = await openSqliteBackend(dir);
      const a = await one.createCollection('shared', DEFAULT_COLLECTION_CONFIG);
      const b = await two.openCollection('shared');
      await a.upsert([{ id: 'x', text: 'from a' }]);
      const r = await b.upsert([{ id: 'y', text: 'from b' }]);
      assert.equal(await a.headSeq(), r.seq);
      assert.deepEqual(
        (await a.get(['x', 'y'])).map((d) => d.text),
        ['from a', 'from b'],
      );
      await one.close();
      await two.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite durability under kill -9', () => {
  const writer = fileURLToPath(new URL('./testing/crash-writer.ts', import.meta.url));

  /** Run the writer, SIGKILL it `delayMs` after its first acknowledged batch; return acknowledged ids. */
  function runAndKill(dataDir: string, tag: string, seed: number, delayMs: number): Promise<string[]> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', writer, dataDir, 'crash', tag, String(seed)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      let timer: NodeJS.Timeout | undefined;
      const giveUp = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        out += s;
        if (!timer && out.includes('\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      child.stderr.on('data', (s: string) => (err += s));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(giveUp);
        if (timer) clearTimeout(timer);
        if (signal !== 'SIGKILL') return reject(new Error(`writer exited (${code}) before the kill: ${err}`));
        // Only complete lines were acknowledged; a torn last line is not.
        const lines = out.split('\n').slice(0, -1);
        resolvePromise(lines.flatMap((l) => (JSON.parse(l) as { ids: string[] }).ids));
      });
    });
  }

  it(
    'keeps every acknowledged document intact across several random SIGKILLs',
    { timeout: 60_000 },
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'quiver-crash-'));
      try {
        const backend = await openSqliteBackend(dir);
        await (await backend.createCollection('crash', DEFAULT_COLLECTION_CONFIG)).close();
        await backend.close();
        const acknowledged = new Set<string>();
        const acknowledgedPerRun: number[] = [];
        for (let run = 0; run < 4; run++) {
          const delay = Math.floor(Math.random() * 400);
          const ids = await runAndKill(dir, `r${run}`, 1000 + run, delay);
          assert.ok(ids.length > 0, 'the writer acknowledged something before the kill');
          for (const id of ids) acknowledged.add(id);
          acknowledgedPerRun.push(ids.length);

          // Reopen after every crash: the store must open cleanly and hold everything acknowledged.
          const reopened = await openSqliteBackend(dir);
          const store = await reopened.openCollection('crash');
          const got = await store.get([...acknowledged]);
          assert.equal(
            got.length,
            acknowledged.size,
            `run ${run} (kill after ${delay} ms): acknowledged docs missing`,
          );
          for (const d of got) assert.equal(d.text, expectedText(d.id), `document ${d.id} is intact`);
          // Whatever the store holds is whole: no document is torn, acknowledged or not.
          for await (const d of store.scan({ batchSize: 500 })) assert.equal(d.text, expectedText(d.id));
          let changes = 0;
          for await (const _change of store.changesSince(0)) changes++;
          assert.equal(changes, await store.count());
          await reopened.close();
        }
        // Print how much each run wrote, so a run that died too early to prove anything shows up.
        t.diagnostic(`acknowledged per run: ${acknowledgedPerRun.join(', ')}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
