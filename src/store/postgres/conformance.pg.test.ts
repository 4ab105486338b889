/**
 * The shared index conformance suites, unchanged, against the in-database indexes of the Postgres
 * backend, through the wire protocol (PGlite + pglite-socket + pg). The store conformance suite
 * runs in postgres.pg.test.ts.
 */
import { runLexicalConformance } from '../../index/lexical/lexical.conformance.js';
import { runSparseConformance } from '../../index/sparse/sparse-index.conformance.js';
import { runVectorIndexConformance } from '../../index/vector/vector-index.conformance.js';
import { createAnalyzer } from '../../analyze/index.js';
import { DEFAULT_COLLECTION_CONFIG } from '../../types.js';
import { openPostgresBackend } from './postgres-backend.js';
import { startPgliteServer } from './testing/pglite-server.js';

runLexicalConformance('postgres (BM25 in SQL, pglite-socket)', async () => {
  const server = await startPgliteServer();
  const backend = await openPostgresBackend(server.url);
  // Filters are evaluated in SQL against quiver_docs, so the documents the suite's passages belong
  // to (docKey 1..5, ids d1..d5) must exist in the store of record, as they always do in the engine.
  const store = await backend.createCollection('lexical', DEFAULT_COLLECTION_CONFIG);
  const { keys } = await store.upsert([1, 2, 3, 4, 5].map((k) => ({ id: `d${k}`, text: '' })));
  if (keys.join() !== '1,2,3,4,5') throw new Error(`unexpected document keys ${keys.join()}`);
  const index = await backend.createLexicalIndex('lexical', {
    analyzer: createAnalyzer({ language: 'en' }),
    k1: 0.9,
    b: 0.4,
  });
  return {
    index,
    async cleanup() {
      await backend.close();
      await server.stop();
    },
  };
});

runVectorIndexConformance(
  'pgvector HNSW (pglite-socket)',
  async ({ dims, metric }) => {
    const server = await startPgliteServer();
    const backend = await openPostgresBackend(server.url);
    await backend.createCollection('vectors', DEFAULT_COLLECTION_CONFIG);
    const index = await backend.createVectorIndex('vectors', 'dense', { dims, metric });
    return {
      index,
      async cleanup() {
        await backend.close();
        await server.stop();
      },
    };
  },
  // pgvector evaluates filters in SQL, so filters carry their allowed keys as the engine sends them.
  { metrics: ['cos', 'ip', 'l2'], keysOnly: true },
);

runSparseConformance('postgres (learned sparse in SQL, pglite-socket)', async () => {
  const server = await startPgliteServer();
  const backend = await openPostgresBackend(server.url);
  await backend.createCollection('sparse', DEFAULT_COLLECTION_CONFIG);
  const index = await backend.createSparseIndex('sparse', 'splade');
  return {
    index,
    async cleanup() {
      await backend.close();
      await server.stop();
    },
  };
});
