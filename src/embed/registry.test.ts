/**
 * Contract tests of the prompt conventions (../shared/docs/ANCHORS.md): the exact string each
 * registered model sees per role and task, and the token ids the real e5-small-v2 tokenizer gives.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import type { EmbedOptions } from './embedder.js';
import type { ModelSpec } from './registry.js';
import {
  TASK_INSTRUCTIONS,
  formatInput,
  getModelSpec,
  listModels,
  registerModel,
  taskInstruction,
} from './registry.js';

const T = 'how much protein should a female eat';
const Q: EmbedOptions = { role: 'query' };
const D: EmbedOptions = { role: 'document' };
const S: EmbedOptions = { role: 'symmetric' };
const fmt = (model: string, opts: EmbedOptions, text = T) => formatInput(getModelSpec(model), text, opts);

describe('registry: exact input strings per family, role and task', () => {
  for (const m of [
    'intfloat/e5-small-v2',
    'intfloat/e5-base-v2',
    'intfloat/e5-large-v2',
    'intfloat/multilingual-e5-small',
    'intfloat/multilingual-e5-base',
    'intfloat/multilingual-e5-large',
  ]) {
    it(`${m}: "query: " / "passage: ", symmetric "query: " both sides`, () => {
      assert.equal(fmt(m, Q), `query: ${T}`);
      assert.equal(fmt(m, D), `passage: ${T}`);
      assert.equal(fmt(m, S), `query: ${T}`);
      // A task never changes a non-instruct model's input.
      assert.equal(fmt(m, { role: 'query', task: 'scifact' }), `query: ${T}`);
      const spec = getModelSpec(m);
      assert.equal(spec.pooling, 'mean');
      assert.equal(spec.normalize, true);
      assert.equal(spec.maxTokens, 512);
    });
  }

  it('multilingual-e5-large-instruct: instruction on queries, none on documents, both sides for STS', () => {
    const m = 'intfloat/multilingual-e5-large-instruct';
    assert.equal(
      fmt(m, { role: 'query', task: 'scifact' }),
      `Instruct: Given a scientific claim, retrieve documents that support or refute the claim\nQuery: ${T}`,
    );
    assert.equal(fmt(m, { role: 'document', task: 'scifact' }), T);
    assert.equal(fmt(m, D), T);
    assert.equal(fmt(m, S), `Instruct: Retrieve semantically similar text.\nQuery: ${T}`);
    assert.equal(
      fmt(m, Q),
      `Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: ${T}`,
    );
    // A free-text instruction passes through; dataset names resolve case-insensitively.
    assert.equal(fmt(m, { role: 'query', task: 'Find recipes' }), `Instruct: Find recipes\nQuery: ${T}`);
    assert.equal(
      fmt(m, { role: 'query', task: 'TRECCOVID' }),
      `Instruct: Given a query on COVID-19, retrieve documents that answer the query\nQuery: ${T}`,
    );
    assert.equal(getModelSpec(m).pooling, 'mean');
  });

  it('e5-mistral-7b-instruct: same template, last-token pooling with EOS, 4096 tokens, remote', () => {
    const m = 'e5-mistral-7b-instruct';
    assert.equal(
      fmt(m, { role: 'query', task: 'arguana' }),
      `Instruct: Given a claim, find documents that refute the claim\nQuery: ${T}`,
    );
    assert.equal(fmt(m, D), T);
    assert.equal(fmt(m, S), `Instruct: Retrieve semantically similar text.\nQuery: ${T}`);
    const spec = getModelSpec(m);
    assert.equal(spec.pooling, 'last');
    assert.equal(spec.addEos, true);
    assert.equal(spec.maxTokens, 4096);
    assert.equal(spec.provider, 'remote');
  });

  it('E5-V: the paper prompt in the LLaVA-NeXT (Llama-3) chat template, for text and images', () => {
    const expected =
      '<|start_header_id|>user<|end_header_id|>\n\n' +
      `${T}\nSummary above sentence in one word: ` +
      '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n';
    for (const o of [Q, D, S]) assert.equal(fmt('royokong/e5-v', o), expected);
    const spec = getModelSpec('e5-v');
    assert.equal(
      spec.prompts?.image,
      '<|start_header_id|>user<|end_header_id|>\n\n<image>\nSummary above image in one word: ' +
        '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n',
    );
    assert.deepEqual(spec.modalities, ['text', 'image']);
  });

  for (const m of ['BAAI/bge-small-en-v1.5', 'BAAI/bge-base-en-v1.5', 'BAAI/bge-large-en-v1.5']) {
    it(`${m}: query instruction, plain documents, CLS pooling`, () => {
      assert.equal(fmt(m, Q), `Represent this sentence for searching relevant passages: ${T}`);
      assert.equal(fmt(m, D), T);
      assert.equal(fmt(m, S), T);
      assert.equal(getModelSpec(m).pooling, 'cls');
    });
  }

  for (const m of ['sentence-transformers/all-MiniLM-L6-v2', 'thenlper/gte-small', 'thenlper/gte-base']) {
    it(`${m}: no prefix on any side, mean pooling`, () => {
      for (const o of [Q, D, S]) assert.equal(fmt(m, o), T);
      assert.equal(getModelSpec(m).pooling, 'mean');
    });
  }

  it('user text containing $-patterns and braces is inserted literally', () => {
    const tricky = "costs $& and $' {text} {task}";
    assert.equal(
      fmt('multilingual-e5-large-instruct', { role: 'query', task: 'x' }, tricky),
      `Instruct: x\nQuery: ${tricky}`,
    );
  });
});

describe('registry: task instructions (MTEB)', () => {
  it('has the instruction of every anchor dataset', () => {
    const want: Record<string, string> = {
      SciFact: 'Given a scientific claim, retrieve documents that support or refute the claim',
      NFCorpus: 'Given a question, retrieve relevant documents that best answer the question',
      ArguAna: 'Given a claim, find documents that refute the claim',
      SCIDOCS: 'Given a scientific paper title, retrieve paper abstracts that are cited by the given paper',
      FiQA2018: 'Given a financial question, retrieve user replies that best answer the question',
      TRECCOVID: 'Given a query on COVID-19, retrieve documents that answer the query',
      QuoraRetrieval:
        'Given a question, retrieve questions that are semantically equivalent to the given question',
      MIRACLRetrieval: 'Given a question, retrieve Wikipedia passages that answer the question',
      STS: 'Retrieve semantically similar text.',
    };
    for (const [dataset, instruction] of Object.entries(want))
      assert.equal(taskInstruction(dataset), instruction);
    assert.equal(TASK_INSTRUCTIONS['scifact'], want['SciFact']);
  });
});

describe('registry: lookup and registration', () => {
  it('finds models by name and short alias, case-insensitively', () => {
    assert.equal(getModelSpec('e5-small-v2').name, 'intfloat/e5-small-v2');
    assert.equal(getModelSpec('INTFLOAT/E5-SMALL-V2').name, 'intfloat/e5-small-v2');
    assert.equal(getModelSpec('bge-small-en-v1.5').name, 'BAAI/bge-small-en-v1.5');
    assert.equal(getModelSpec('all-MiniLM-L6-v2').dims, 384);
    const names = listModels().map((m) => m.name);
    for (const n of [
      'intfloat/e5-large-v2',
      'royokong/e5-v',
      'thenlper/gte-base',
      'intfloat/multilingual-e5-large',
    ]) {
      assert.ok(names.includes(n), n);
    }
  });

  it('an unknown model is MODEL_NOT_FOUND naming close names', () => {
    assert.throws(
      () => getModelSpec('e5-smal-v2'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'MODEL_NOT_FOUND');
        assert.match(e.message, /intfloat\/e5-small-v2/);
        return true;
      },
    );
  });

  it('registers a valid user spec under its name and aliases', () => {
    const spec: ModelSpec = {
      name: 'acme/tiny-embed',
      aliases: ['tiny-embed'],
      family: 'acme',
      provider: 'onnx',
      dims: 64,
      maxTokens: 128,
      pooling: 'cls',
      normalize: true,
      prefixes: { query: 'q: ', document: 'd: ' },
      matryoshka: [32, 16],
    };
    registerModel(spec);
    assert.equal(getModelSpec('tiny-embed').name, 'acme/tiny-embed');
    assert.equal(fmt('tiny-embed', Q, 'x'), 'q: x');
    assert.equal(fmt('tiny-embed', S, 'x'), 'x');
    assert.deepEqual(getModelSpec('tiny-embed').modalities, ['text']);
  });

  it('refuses invalid specs with INVALID_CONFIG naming the field', () => {
    const base: ModelSpec = {
      name: 'acme/bad',
      family: 'acme',
      provider: 'onnx',
      dims: 8,
      maxTokens: 16,
      pooling: 'mean',
      normalize: true,
    };
    const cases: [Partial<ModelSpec> | Record<string, unknown>, string][] = [
      [{ name: '' }, 'model.name'],
      [{ provider: 'gpu' }, 'model.provider'],
      [{ dims: 0 }, 'model.dims'],
      [{ dims: 1.5 }, 'model.dims'],
      [{ maxTokens: 0 }, 'model.maxTokens'],
      [{ pooling: 'max' }, 'model.pooling'],
      [{ normalize: 'yes' }, 'model.normalize'],
      [{ instructionTemplate: 'Instruct: {task}' }, 'model.instructionTemplate'],
      [{ matryoshka: [16] }, 'model.matryoshka'],
      [{ hub: { repo: 'no-owner' } }, 'model.hub.repo'],
      [{ aliases: ['e5-small-v2'] }, 'model.aliases'],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => registerModel({ ...base, ...patch } as ModelSpec),
        (e: Error & { code?: string; location?: { field?: string } }) => {
          assert.equal(e.code, 'INVALID_CONFIG', JSON.stringify(patch));
          assert.equal(e.location?.field, field, JSON.stringify(patch));
          return true;
        },
      );
    }
  });
});

describe('registry: token ids with the real e5-small-v2 tokenizer', () => {
  const dir = fileURLToPath(new URL('../../../shared/models/e5-small-v2/', import.meta.url));
  const tokenizer = new Tokenizer(
    JSON.parse(readFileSync(`${dir}tokenizer.json`, 'utf8')) as object,
    JSON.parse(readFileSync(`${dir}tokenizer_config.json`, 'utf8')) as object,
  );

  it('query: how much protein should a female eat', () => {
    const ids = tokenizer.encode(fmt('e5-small-v2', Q)).ids;
    assert.deepEqual(ids, [101, 23032, 1024, 2129, 2172, 5250, 2323, 1037, 2931, 4521, 102]);
  });

  it('passage: prefix tokenizes as "passage" ":"', () => {
    const ids = tokenizer.encode(fmt('e5-small-v2', D)).ids;
    assert.deepEqual(ids.slice(0, 3), [101, tokenizer.token_to_id('passage')!, 1024]);
  });
});
