#!/usr/bin/env node
// tsc compiles only TypeScript; the web UI's static files are copied next to the compiled server.
import { cpSync, existsSync } from 'node:fs';

const src = new URL('../src/serve/web/', import.meta.url);
const dst = new URL('../dist/serve/web/', import.meta.url);
if (existsSync(src)) cpSync(src, dst, { recursive: true, filter: (p) => !p.endsWith('.ts') });
