/** Learned-sparse retrieval end to end on the embedded store (SQLite + index files). */
import { Quiver } from '../src/engine/quiver.js';
import { runSparseScenario } from './sparse-scenario.js';

runSparseScenario('sqlite', (dir) => Quiver.open({ data: dir }), { snapshots: true });
