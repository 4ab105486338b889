import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { QuiverError } from '../errors.js';
import type { QuiverDocument } from '../types.js';
import type { IngestItem, SourceSpec } from './index.js';
import { MAX_JSON_ARRAY_BYTES, openSource, readLines } from './index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-sources-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function items(spec: SourceSpec): Promise<IngestItem[]> {
  const out: IngestItem[] = [];
  for await (const it of openSource(spec)) out.push(it);
  return out;
}
const docsOf = (xs: IngestItem[]): QuiverDocument[] => xs.flatMap((x) => (x.ok ? [x.doc] : []));
const errorsOf = (xs: IngestItem[]): QuiverError[] => xs.flatMap((x) => (x.ok ? [] : [x.error]));

async function file(name: string, content: string | Buffer): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

describe('readLines', () => {
  it('splits bytes on \\n across chunk boundaries, numbering lines, keeping a last line without newline', async () => {
    const chunks = [Buffer.from('ab'), Buffer.from('c\nde'), Buffer.from('\n\nf'), Buffer.from('g')];
    const lines: [number, string][] = [];
    for await (const l of readLines(Readable.from(chunks))) lines.push([l.line, l.bytes.toString()]);
    assert.deepEqual(lines, [
      [1, 'abc'],
      [2, 'de'],
      [3, ''],
      [4, 'fg'],
    ]);
  });

  it('does not split a multi-byte character cut across chunks', async () => {
    const bytes = Buffer.from('é😀\n');
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const lines: string[] = [];
    for await (const l of readLines(Readable.from(chunks))) lines.push(l.bytes.toString('utf8'));
    assert.deepEqual(lines, ['é😀']);
  });
});

describe('BEIR corpus JSONL', () => {
  it('reads _id, title, text and metadata, detected from the file name corpus.jsonl', async () => {
    await mkdir(join(dir, 'beir'), { recursive: true });
    const p = await file(
      'beir/corpus.jsonl',
      [
        JSON.stringify({
          _id: '4983',
          title: 'Microstructural development',
          text: 'Alterations of the architecture',
          metadata: { year: 2001 },
        }),
        JSON.stringify({ _id: '5836', title: '', text: 'Second' }),
      ].join('\n') + '\n',
    );
    const got = await items({ path: p });
    assert.deepEqual(docsOf(got), [
      {
        id: '4983',
        title: 'Microstructural development',
        text: 'Alterations of the architecture',
        metadata: { year: 2001 },
      },
      { id: '5836', title: '', text: 'Second' },
    ]);
    assert.deepEqual(got[1]!.ok && got[1]!.location, { file: p, line: 2 });
  });

  it('ingests the real SciFact corpus with no problems', async () => {
    const corpus = new URL('../../../shared/datasets/scifact/corpus.jsonl', import.meta.url);
    let docs = 0;
    let problems = 0;
    for await (const it of openSource({ path: corpus.pathname, format: 'beir' })) {
      if (it.ok) docs++;
      else problems++;
    }
    assert.equal(problems, 0);
    assert.equal(docs, 5183);
  });
});

describe('generic JSONL with a field mapping', () => {
  it('maps dotted paths, and keeps listed or remaining fields as metadata', async () => {
    const p = await file(
      'generic.jsonl',
      JSON.stringify({ ref: { id: 'x1' }, body: { main: 'hello' }, head: 'Title', year: 2020, lang: 'en' }) +
        '\n',
    );
    const listed = await items({
      path: p,
      mapping: { id: 'ref.id', text: 'body.main', title: 'head', metadata: ['year'] },
    });
    assert.deepEqual(docsOf(listed), [{ id: 'x1', text: 'hello', title: 'Title', metadata: { year: 2020 } }]);
    const rest = await items({ path: p, mapping: { id: 'ref.id', text: 'body.main', metadata: 'rest' } });
    assert.deepEqual(docsOf(rest)[0]!.metadata, { head: 'Title', year: 2020, lang: 'en' });
  });

  it('guesses id/text/title fields when no mapping is given, and turns numeric ids into strings', async () => {
    const p = await file(
      'guess.jsonl',
      JSON.stringify({ id: 7, content: 'words', title: 'T', tag: 'a' }) + '\n',
    );
    assert.deepEqual(docsOf(await items({ path: p })), [
      { id: '7', text: 'words', title: 'T', metadata: { tag: 'a' } },
    ]);
  });

  it('passes a record\'s "sparse" object through as its sparse vectors (not metadata), reporting bad ones by line and field', async () => {
    const p = await file(
      'sparse.jsonl',
      [
        JSON.stringify({ id: 'a', text: 'x', tag: 't', sparse: { splade: { otter: 1.5, '##ase': 0.25 } } }),
        JSON.stringify({ id: 'b', text: 'y', sparse: { splade: { otter: -1 } } }),
        JSON.stringify({ id: 'c', text: 'z', sparse: { splade: { otter: 'high' } } }),
        JSON.stringify({ _id: 'd', text: 'beir', metadata: { m: 1 }, sparse: { s: { w: 2 } } }),
      ].join('\n'),
    );
    const got = await items({ path: p });
    assert.deepEqual(docsOf(got), [
      { id: 'a', text: 'x', metadata: { tag: 't' }, sparse: { splade: { otter: 1.5, '##ase': 0.25 } } },
      { id: 'd', text: 'beir', metadata: { m: 1 }, sparse: { s: { w: 2 } } },
    ]);
    assert.deepEqual(
      errorsOf(got).map((e) => [e.location.line, e.location.field]),
      [
        [2, 'sparse.splade.otter'],
        [3, 'sparse.splade.otter'],
      ],
    );
  });

  it('skips blank lines, handles CRLF and a byte order mark', async () => {
    const p = await file(
      'crlf.jsonl',
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('{"id":"a","text":"x"}\r\n\r\n   \n{"id":"b","text":"y"}\r\n'),
      ]),
    );
    const got = await items({ path: p });
    assert.deepEqual(
      docsOf(got).map((d) => d.id),
      ['a', 'b'],
    );
    assert.equal(errorsOf(got).length, 0);
    assert.deepEqual(got[1]!.ok && got[1]!.location, { file: p, line: 4 });
  });

  it('reports every kind of bad record with file:line and field, and goes on', async () => {
    const lines = [
      '{"id":"ok1","text":"fine"}',
      '{"id":"broken", "text": ',
      '{"text":"no id"}',
      '{"id":"no-text"}',
      '{"id":["arr"],"text":"x"}',
      '{"id":"num-text","text":42}',
      '{"id":"bad-title","text":"x","title":{"a":1}}',
      '[1,2,3]',
      `{"id":"${'l'.repeat(600)}","text":"x"}`,
      '{"id":"","text":"x"}',
    ];
    const bytes = Buffer.concat([
      Buffer.from(lines.join('\n') + '\n'),
      Buffer.from('{"id":"bad-utf8","text":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}\n{"id":"ok2","text":"after"}'),
    ]);
    const p = await file('bad.jsonl', bytes);
    const got = await items({ path: p });
    assert.deepEqual(
      docsOf(got).map((d) => d.id),
      ['ok1', 'ok2'],
    );
    const problems = errorsOf(got).map((e) => [
      e.code,
      e.location.line,
      e.location.field ?? null,
      e.location.file,
    ]);
    assert.deepEqual(problems, [
      ['INVALID_JSON', 2, null, p],
      ['INVALID_DOCUMENT', 3, 'id', p],
      ['INVALID_DOCUMENT', 4, 'text', p],
      ['INVALID_DOCUMENT', 5, 'id', p],
      ['INVALID_DOCUMENT', 6, 'text', p],
      ['INVALID_DOCUMENT', 7, 'title', p],
      ['INVALID_DOCUMENT', 8, null, p],
      ['INVALID_DOCUMENT', 9, 'id', p],
      ['INVALID_DOCUMENT', 10, 'id', p],
      ['INVALID_UTF8', 11, null, p],
    ]);
    const utf8 = errorsOf(got).at(-1)!;
    assert.match(utf8.toLine(), /bad\.jsonl:11/);
    assert.match(utf8.message, /byte 25/);
  });

  it('yields nothing for an empty file', async () => {
    assert.deepEqual(await items({ path: await file('empty.jsonl', '') }), []);
    assert.deepEqual(await items({ path: await file('empty.json', '') }), []);
  });

  it('reads a 50 MB single-line document', async () => {
    const text = 'lorem ipsum dolor sit amet ünï 😀 '.repeat(Math.ceil((50 * 2 ** 20) / 37));
    const p = await file('huge.jsonl', JSON.stringify({ id: 'huge', text }) + '\n{"id":"next","text":"n"}\n');
    const got = await items({ path: p });
    assert.equal(got.length, 2);
    const [huge, next] = docsOf(got);
    assert.ok(huge!.text === text);
    assert.equal(next!.id, 'next');
  });

  it('fails clearly for a missing path', async () => {
    await assert.rejects(
      items({ path: join(dir, 'nope.jsonl') }),
      (e: QuiverError) => e.code === 'FILE_NOT_FOUND',
    );
  });
});

describe('JSON array files', () => {
  it('reads an array of objects, reporting bad elements by index', async () => {
    const p = await file(
      'docs.json',
      JSON.stringify(
        [{ id: 'a', text: 'A', title: 'TA' }, { id: 'b' }, { id: 'c', text: 'C', extra: 1 }],
        null,
        2,
      ),
    );
    const got = await items({ path: p });
    assert.deepEqual(docsOf(got), [
      { id: 'a', text: 'A', title: 'TA' },
      { id: 'c', text: 'C', metadata: { extra: 1 } },
    ]);
    const [err] = errorsOf(got);
    assert.equal(err!.code, 'INVALID_DOCUMENT');
    assert.equal(err!.location.field, '[1].text');
  });

  it('reports a syntax error with its line', async () => {
    const p = await file('broken.json', '[\n  {"id": "a", "text": "x"},\n  {"id": "b", "text": }\n]');
    const [err] = errorsOf(await items({ path: p }));
    assert.equal(err!.code, 'INVALID_JSON');
    assert.equal(err!.location.line, 3);
  });

  it('refuses files over the size limit, recommending JSONL', async () => {
    assert.equal(MAX_JSON_ARRAY_BYTES, 256 * 2 ** 20);
    const p = join(dir, 'big.json');
    // A sparse file: the size check must come before any reading.
    const { open } = await import('node:fs/promises');
    const fh = await open(p, 'w');
    await fh.truncate(MAX_JSON_ARRAY_BYTES + 1);
    await fh.close();
    await assert.rejects(
      items({ path: p }),
      (e: QuiverError) => e.code === 'LIMIT_EXCEEDED' && /JSONL/.test(e.message),
    );
  });
});

describe('folders', () => {
  it('reads .txt, .md and .html files with titles, ids as relative paths, and images', async () => {
    const root = join(dir, 'site');
    await mkdir(join(root, 'sub'), { recursive: true });
    await mkdir(join(root, 'img'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'plain text file');
    await writeFile(join(root, 'sub', 'b.md'), '```\n# not a title\n```\nintro\n\n## Real Title ##\n\nbody');
    await writeFile(
      join(root, 'sub', 'c.html'),
      '<html><head><title>Page &amp; Title</title><style>p{}</style><script>var secret=1</script></head>' +
        '<body><h1>Heading</h1><div>Intro <b>bold</b></div><ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>',
    );
    await writeFile(join(root, 'sub', 'd.html'), '<body><h2>Only heading</h2><p>text</p></body>');
    await writeFile(join(root, 'img', 'red_fox-photo.PNG'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await writeFile(join(root, 'skip.bin'), Buffer.from([0, 1, 2]));
    await writeFile(join(root, '.hidden.txt'), 'hidden');
    await writeFile(join(root, 'bad.txt'), Buffer.from([0x61, 0xff, 0x62]));

    const got = await items({ path: root });
    const docs = new Map(docsOf(got).map((d) => [d.id, d]));
    assert.deepEqual([...docs.keys()].sort(), [
      'a.txt',
      'img/red_fox-photo.PNG',
      'sub/b.md',
      'sub/c.html',
      'sub/d.html',
    ]);
    assert.equal(docs.get('a.txt')!.text, 'plain text file');
    assert.equal(docs.get('a.txt')!.metadata!['path'], 'a.txt');
    assert.equal(docs.get('sub/b.md')!.title, 'Real Title');
    const html = docs.get('sub/c.html')!;
    assert.equal(html.title, 'Page & Title');
    assert.equal(html.text, 'Heading\nIntro bold\none\ntwo');
    assert.doesNotMatch(html.text, /secret|alert|p\{\}/);
    assert.equal(docs.get('sub/d.html')!.title, 'Only heading');
    const img = docs.get('img/red_fox-photo.PNG')!;
    assert.equal(img.metadata!['image'], join(root, 'img', 'red_fox-photo.PNG'));
    assert.equal(img.text, 'red fox photo');
    const [err] = errorsOf(got);
    assert.equal(err!.code, 'INVALID_UTF8');
    assert.equal(err!.location.file, join(root, 'bad.txt'));
  });
});

describe('stdin', () => {
  it('reads JSONL from a stream, with <stdin>:line locations', async () => {
    const input = Readable.from([Buffer.from('{"id":"s1","text":"one"}\n{bad\n{"id":"s2","text":"two"}')]);
    const got = await items({ stdin: true, input });
    assert.deepEqual(
      docsOf(got).map((d) => d.id),
      ['s1', 's2'],
    );
    const [err] = errorsOf(got);
    assert.deepEqual([err!.code, err!.location.file, err!.location.line], ['INVALID_JSON', '<stdin>', 2]);
  });
});
