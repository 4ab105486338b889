/**
 * Child process for the crash test: upserts batches into a SQLite collection forever and prints
 * one line per acknowledged batch (`{"ids":[...]}`), only after `upsert` resolved. The parent
 * kills it with SIGKILL at a random moment and checks that every printed id survived intact.
 *
 * Usage: node --import tsx crash-writer.ts <dataDir> <collection> <runTag> <seed>
 */
import { openSqliteBackend } from '../sqlite-backend.js';
import { expectedText } from './crash-docs.js';

const [dataDir, collection, runTag, seedArg] = process.argv.slice(2);
if (!dataDir || !collection || !runTag)
  throw new Error('usage: crash-writer <dataDir> <collection> <runTag> <seed>');

let seed = Number(seedArg ?? 1) >>> 0;
const random = (): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};

const backend = await openSqliteBackend(dataDir);
const store = await backend.openCollection(collection);
for (let batch = 0; ; batch++) {
  const size = 1 + Math.floor(random() * 120);
  const ids = Array.from({ length: size }, (_, i) => `${runTag}-${batch}-${i}`);
  // Some documents are rewrites of an earlier batch's ids: replacement must be atomic too.
  if (batch > 2 && random() < 0.3) ids.push(`${runTag}-${batch - 2}-0`);
  await store.upsert(ids.map((id) => ({ id, text: expectedText(id), metadata: { batch } })));
  process.stdout.write(`${JSON.stringify({ ids })}\n`);
}
