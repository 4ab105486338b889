/**
 * A model folder's tokenizer and the id → term table sparse vectors are written in. Special tokens
 * ([CLS], [SEP], [PAD], [UNK], [MASK], …: the tokenizer's added tokens marked special) carry no
 * meaning as index terms, so they have no term and are dropped from vectors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { QuiverError } from '../../errors.js';

export interface Vocabulary {
  tokenizer: Tokenizer;
  /** terms[id] = the vocabulary token, or undefined for special tokens. */
  terms: (string | undefined)[];
  specialIds: Set<number>;
  padId: number;
  sepId: number | undefined;
  eosId: number | undefined;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
}

export function loadVocabulary(dir: string): Vocabulary {
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) {
    throw new QuiverError('FILE_NOT_FOUND', `no tokenizer.json in ${dir}`, { location: { file: tokPath } });
  }
  const json = readJson(tokPath) as TokenizerJson;
  const cfgPath = join(dir, 'tokenizer_config.json');
  const tokenizer = new Tokenizer(
    json as ConstructorParameters<typeof Tokenizer>[0],
    (existsSync(cfgPath) ? readJson(cfgPath) : {}) as ConstructorParameters<typeof Tokenizer>[1],
  );
  const specialIds = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
  const terms: (string | undefined)[] = [];
  for (const [token, id] of tokenizer.get_vocab(true)) terms[id] = specialIds.has(id) ? undefined : token;
  const id = (t: string): number | undefined => tokenizer.token_to_id(t);
  return {
    tokenizer,
    terms,
    specialIds,
    padId: id('[PAD]') ?? id('<pad>') ?? 0,
    sepId: id('[SEP]'),
    eosId: id('</s>'),
  };
}
