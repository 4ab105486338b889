#!/usr/bin/env node
// Entry point of the `quiver` binary (bin/quiver.js loads the compiled copy of this file).
import { main } from './program.js';

const code = await main(process.argv);
// Native handles (ONNX sessions, SQLite) must not keep a finished command alive.
// Writes to pipes and files are synchronous on Linux, so nothing printed is lost.
process.exit(code);
