#!/usr/bin/env node
// Makes the test fixtures that cannot live in git: a tiny random-weight BERT in ONNX (built by
// ../shared/tools/make_bert_onnx.py with the real e5-small-v2 tokenizer beside it), and checks
// that the system packages the tests use are present, installing them with apt when we are root.
// Idempotent: does nothing when everything is already there.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const shared = join(root, '..', 'shared');
const fixtures = join(root, '.cache', 'fixtures');
const isRoot = process.getuid?.() === 0;

function have(cmd, args = ['--version']) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function aptInstall(pkgs) {
  if (!isRoot) {
    console.error(`prepare-tests: missing system packages ${pkgs.join(' ')} — install them with apt-get.`);
    process.exit(1);
  }
  console.log(`prepare-tests: apt-get install ${pkgs.join(' ')}`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

const missing = [];
if (!have('/usr/bin/python3', ['-c', 'import onnx, numpy'])) missing.push('python3-onnx', 'python3-numpy');
if (!existsSync('/usr/bin/chromium')) missing.push('chromium');
if (missing.length) aptInstall(missing);

/** A model folder laid out like a Hugging Face repo: tokenizer files + onnx/model.onnx. */
function makeModel(name, extraArgs) {
  const dir = join(fixtures, name);
  const model = join(dir, 'onnx', 'model.onnx');
  if (existsSync(model)) return;
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of [
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'vocab.txt',
    'config.json',
  ]) {
    copyFileSync(join(shared, 'models', 'e5-small-v2', f), join(dir, f));
  }
  console.log(`prepare-tests: building ${name} (random weights)`);
  execFileSync('/usr/bin/python3', [join(shared, 'tools', 'make_bert_onnx.py'), model, ...extraArgs], {
    stdio: 'inherit',
  });
}

makeModel('tiny-bert', ['--layers', '2', '--hidden', '32', '--heads', '2', '--ffn', '64']);

/**
 * A model folder built by one of the project's own generators (random weights) with the e5
 * tokenizer beside it: a CLIP-shaped pair of towers for the image path, and a cross-encoder for
 * the reranking stage.
 */
function makeFromScript(name, script, marker) {
  const dir = join(fixtures, name);
  if (existsSync(join(dir, 'onnx', marker))) return;
  mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
    copyFileSync(join(shared, 'models', 'e5-small-v2', f), join(dir, f));
  }
  console.log(`prepare-tests: building ${name} (random weights)`);
  execFileSync('/usr/bin/python3', [join(root, 'scripts', script), dir], { stdio: 'inherit' });
}
makeFromScript('tiny-clip', 'make_clip_onnx.py', 'vision_model.onnx');
makeFromScript('tiny-cross-encoder', 'make_cross_encoder_onnx.py', 'model.onnx');
makeFromScript('tiny-splade', 'make_splade_onnx.py', 'model_pooled.onnx');
makeModel('tiny-bert-q8', ['--layers', '2', '--hidden', '32', '--heads', '2', '--ffn', '64', '--q8']);
