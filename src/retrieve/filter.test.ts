import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { compileFilter, parseFilterArg } from './filter.js';

const doc = {
  id: 'x1',
  metadata: { year: 2020, lang: 'en', tags: ['a', 'b'], date: '2021-05-01', src: { kind: 'web' } },
};

describe('filters', () => {
  it('evaluates equality, $in, ranges (numbers and dates), arrays, nested paths, and/or/not', () => {
    const t = (f: unknown) => compileFilter(f).test(doc);
    assert.equal(t({ year: 2020 }), true);
    assert.equal(t({ year: '2020' }), false, 'types are not coerced');
    assert.equal(t({ tags: 'a' }), true, 'arrays match any element');
    assert.equal(t({ lang: { $in: ['fr', 'en'] } }), true);
    assert.equal(t({ lang: { $nin: ['en'] } }), false);
    assert.equal(t({ year: { $gte: 2019, $lt: 2021 } }), true);
    assert.equal(t({ date: { $gt: '2021-01-01' } }), true);
    assert.equal(t({ 'src.kind': 'web' }), true);
    assert.equal(t({ id: 'x1' }), true);
    assert.equal(t({ missing: { $exists: false } }), true);
    assert.equal(t({ $or: [{ year: 1999 }, { lang: 'en' }] }), true);
    assert.equal(t({ $and: [{ year: 2020 }, { $not: { lang: 'en' } }] }), false);
  });

  it('names the field of a bad filter', () => {
    assert.throws(
      () => compileFilter({ year: { $between: 1 } }),
      (e: QuiverError) => e.code === 'INVALID_FILTER' && e.location.field === 'year',
    );
    assert.throws(
      () => compileFilter({ $or: [] }),
      (e: QuiverError) => e.location.field === '$or',
    );
    assert.throws(
      () => compileFilter({ lang: { $in: 'en' } }),
      (e: QuiverError) => e.location.field === 'lang',
    );
    assert.throws(
      () => compileFilter('year=2020'),
      (e: QuiverError) => e.code === 'INVALID_FILTER',
    );
  });

  it('parses CLI filters: JSON or field=value', () => {
    assert.deepEqual(parseFilterArg('year=2020'), { year: 2020 });
    assert.deepEqual(parseFilterArg('topic=software'), { topic: 'software' });
    assert.deepEqual(parseFilterArg('{"a": {"$gte": 1}}'), { a: { $gte: 1 } });
    assert.throws(
      () => parseFilterArg('{bad'),
      (e: QuiverError) => e.code === 'INVALID_FILTER',
    );
  });
});
