#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error(
    'quiver: dist/ is missing — run `npm install` (or `npm run build`) in the quiver folder first.',
  );
  process.exit(1);
}
await import(entry.href);
