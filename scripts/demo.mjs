#!/usr/bin/env node
// The main job, end to end on a fresh machine: create a collection with BM25 + a dense field
// (offline GloVe vectors), ingest the sample corpus, and search it lexically, densely and hybrid.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = fileURLToPath(new URL('../.quiver-demo', import.meta.url));
const quiver = (...args) => {
  console.log(`\n$ quiver ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [`${root}/bin/quiver.js`, ...args, '--data', data], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

rmSync(data, { recursive: true, force: true });
quiver('init', 'demo', '--model', 'static:glove-100');
quiver('add', 'demo', 'examples/sample-corpus.jsonl', '--map', 'id=id,text=text,title=title');
quiver(
  'search',
  'demo',
  'how do bees tell each other where flowers are',
  '--mode',
  'lexical',
  '-k',
  '3',
  '--snippets',
);
quiver('search', 'demo', 'animals that live in water', '--mode', 'dense', '-k', '3');
quiver('search', 'demo', 'how much protein should a female eat', '--mode', 'hybrid', '-k', '3', '--explain');
quiver('search', 'demo', 'database crash safety', '--filter', 'topic=software', '-k', '3');
quiver('stats', 'demo');
console.log(
  `\nThe collection lives in ${data}. Try: node bin/quiver.js search demo "your query" --data ${data}`,
);
