import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { vectorField } from '../engine/config.js';
import { Quiver } from '../engine/quiver.js';
import { isQuiverError } from '../errors.js';
import { SCIFACT, tempDir } from '../testing/paths.js';
import type { QuiverDocument } from '../types.js';

const corpus: QuiverDocument[] = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 700)
  .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
  .map((d) => ({ id: d._id, title: d.title, text: d.text }));

const codeMap = (entries: { id: string; code: number[] }[]) =>
  new Map(entries.map((e) => [e.id, e.code.join('.')]));

describe('semantic IDs attached to a collection', () => {
  const t = tempDir();
  let quiver: Quiver;

  before(async () => {
    quiver = await Quiver.open({ data: t.dir });
    const c = await quiver.createCollection('sf', { vectors: [vectorField('static:glove-100')] });
    await c.upsert(corpus.slice(0, 600), { deferVectors: true });
    await c.flush({ fit: true });
  });
  after(async () => {
    await quiver.close();
    t.cleanup();
  });

  it('says it is not fitted, and browsing before a fit names the command to run', async () => {
    const ids = await (await quiver.getCollection('sf')).semanticIds();
    assert.deepEqual(await ids.status(), { fitted: false, field: 'dense' });
    await assert.rejects(
      ids.tree([]),
      (e: unknown) =>
        isQuiverError(e) && e.code === 'INVALID_ARGUMENT' && /ids fit --collection sf/.test(e.message),
    );
  });

  it('fits balanced codes on the document vectors: capacity-bounded and spread over the ID space', async () => {
    const ids = await (await quiver.getCollection('sf')).semanticIds();
    const r = await ids.fit({ levels: 2, codes: 16 });
    assert.equal(r.documents, 600);
    assert.equal(r.balanced, true);
    assert.ok(r.utilisation[0]! > 0.98, `level-1 utilisation ${r.utilisation[0]}`);
    const load = new Map<number, number>();
    for (const e of await ids.entries()) load.set(e.code[0]!, (load.get(e.code[0]!) ?? 0) + 1);
    assert.equal(load.size, 16);
    assert.ok(Math.max(...load.values()) <= Math.ceil(600 / 16), `max load ${Math.max(...load.values())}`);
    // Plain k-means on the same vectors crowds some codes: lower utilisation than balanced.
    const plain = await ids.fit({ levels: 2, codes: 16, balanced: false });
    assert.ok(plain.utilisation[0]! < r.utilisation[0]!, `${plain.utilisation[0]} vs ${r.utilisation[0]}`);
    await ids.fit({ levels: 2, codes: 16 });
  });

  it('keeps the IDs across a restart, codes new documents without retraining and forgets deleted ones', async () => {
    const before = codeMap(await (await (await quiver.getCollection('sf')).semanticIds()).entries());
    await quiver.close();
    quiver = await Quiver.open({ data: t.dir });
    const c = await quiver.getCollection('sf');
    const ids = await c.semanticIds();
    const status = await ids.status();
    assert.equal(status.fitted, true);
    assert.equal(status.fittedDocuments, 600);
    assert.deepEqual(codeMap(await ids.entries()), before, 'the same IDs after reopening');

    await c.upsert(corpus.slice(600, 650));
    await c.delete([corpus[0]!.id]);
    const after = codeMap(await ids.entries());
    assert.equal(after.size, 649);
    assert.equal(after.has(corpus[0]!.id), false, 'a deleted document has no ID');
    for (const d of corpus.slice(1, 600))
      assert.equal(after.get(d.id), before.get(d.id), 'existing IDs never move');
    for (const d of corpus.slice(600, 650))
      assert.match(after.get(d.id) ?? '', /^\d+\.\d+$/, `${d.id} got an ID`);
    const s = await ids.status();
    assert.equal(s.fittedDocuments, 600, 'no retraining happened');
    assert.equal(s.documents, 649);

    // The new documents' IDs were stored too: a fresh process reads them without recomputing.
    await quiver.close();
    quiver = await Quiver.open({ data: t.dir });
    assert.deepEqual(
      codeMap(await (await (await quiver.getCollection('sf')).semanticIds()).entries()),
      after,
    );
  });

  it('browses the code tree level by level down to the documents of one code', async () => {
    const ids = await (await quiver.getCollection('sf')).semanticIds();
    const root = await ids.tree([], { samples: 2 });
    assert.equal(root.total, 649);
    assert.equal(
      root.children.reduce((n, ch) => n + ch.count, 0),
      649,
    );
    assert.ok(
      root.children.every(
        (ch) => ch.code.length === 1 && ch.samples.length === 2 && ch.samples.every((x) => x.title),
      ),
    );
    const top = root.children[0]!;
    const level2 = await ids.tree(top.code);
    assert.equal(level2.total, top.count);
    assert.ok(level2.children.every((ch) => ch.code[0] === top.code[0] && ch.code.length === 2));
    const leaf = await ids.tree(level2.children[0]!.code);
    assert.equal(leaf.children.length, 0);
    assert.equal(leaf.documents?.length, level2.children[0]!.count);
    const all = codeMap(await ids.entries());
    for (const d of leaf.documents ?? []) assert.equal(all.get(d.id), leaf.prefix.join('.'));

    for (const bad of [[99], [-1], [0, 0, 0], [1.5]]) {
      await assert.rejects(
        ids.tree(bad),
        (e: unknown) => isQuiverError(e) && e.code === 'INVALID_ARGUMENT' && e.location.field === 'prefix',
      );
    }
    await assert.rejects(
      ids.fit({ levels: 0 }),
      (e: unknown) => isQuiverError(e) && e.location.field === 'levels',
    );
    await assert.rejects(
      ids.fit({ codes: 1 }),
      (e: unknown) => isQuiverError(e) && e.location.field === 'codes',
    );
  });
});
