#!/usr/bin/env node
// Runs the test suite with Node's own test runner (+ tsx for TypeScript).
//   node scripts/run-tests.mjs                 every test (unit, conformance, postgres, e2e)
//   node scripts/run-tests.mjs --only postgres  only *.pg.test.ts
//   node scripts/run-tests.mjs --only e2e       only test/e2e/**
//   node scripts/run-tests.mjs <path-substring> only files whose path contains it
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;
const filters = args.filter((a, i) => !a.startsWith('--') && (onlyIdx < 0 || i !== onlyIdx + 1));

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = [...walk(join(root, 'src')), ...walk(join(root, 'test'))].sort();
if (only === 'postgres') files = files.filter((f) => f.endsWith('.pg.test.ts'));
else if (only === 'e2e') files = files.filter((f) => f.startsWith('test/e2e/'));
else if (only) files = files.filter((f) => f.includes(only));
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const prep = spawnSync(process.execPath, [join(root, 'scripts/prepare-tests.mjs')], {
  stdio: 'inherit',
  cwd: root,
});
if (prep.status !== 0) process.exit(prep.status ?? 1);

const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', cwd: root, env: { ...process.env, QUIVER_TEST: '1' } },
);
process.exit(res.status ?? 1);
