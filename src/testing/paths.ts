/** Paths tests share: the repository root, ../shared beside it, and test fixtures. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED = join(REPO_ROOT, '..', 'shared');
export const SCIFACT = join(SHARED, 'datasets', 'scifact');
export const E5_TOKENIZER_DIR = join(SHARED, 'models', 'e5-small-v2');
export const TINY_BERT = join(REPO_ROOT, '.cache', 'fixtures', 'tiny-bert');
export const TINY_BERT_Q8 = join(REPO_ROOT, '.cache', 'fixtures', 'tiny-bert-q8');
export const TINY_CLIP = join(REPO_ROOT, '.cache', 'fixtures', 'tiny-clip');
export const TINY_CROSS_ENCODER = join(REPO_ROOT, '.cache', 'fixtures', 'tiny-cross-encoder');
/** A BERT masked-language model (SPLADE-shaped: logits over the e5 vocabulary), random weights. */
export const TINY_SPLADE = join(REPO_ROOT, '.cache', 'fixtures', 'tiny-splade');

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'quiver-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
