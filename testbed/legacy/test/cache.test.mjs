// Contract 4.2 and 10: the per-process getAll snapshot (300 s by default,
// cleared only by a successful create), with --getall-ttl for tests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSample, fixture, mutate, parsed, query, startStandin } from './helpers.mjs';

const stale = fixture(before, after);
const short = fixture(before, after, ['--getall-ttl', '1']);
const fresh = fixture(before, after, ['--getall-ttl', '0']);

const getAll = async (base) => parsed(await query(base, 'nanopore.getAll')).result.data;

describe('4.2 getAll snapshot', () => {
  test('4.2 an empty table gives []', async () => {
    assert.deepEqual(await getAll(stale.base), []);
  });
  test('4.2 create clears the snapshot; the next getAll is fresh', async () => {
    const a = await createSample(stale.base, { sampleName: 'A' });
    const list = await getAll(stale.base);
    assert.deepEqual(list.map((s) => s.id), [a.id]);
  });
  test('4.2 update, assign, updateStatus and delete do not clear it', async () => {
    const [a] = await getAll(stale.base);
    await mutate(stale.base, 'nanopore.updateStatus', { id: a.id, status: 'sequencing' });
    await mutate(stale.base, 'nanopore.assign', { id: a.id, assignedTo: 'Kim' });
    await mutate(stale.base, 'nanopore.update', { id: a.id, data: { priority: 'urgent' } });
    let [cached] = await getAll(stale.base);
    assert.deepEqual([cached.status, cached.assigned_to, cached.priority], [a.status, a.assigned_to, a.priority]);
    await mutate(stale.base, 'nanopore.delete', a.id);
    [cached] = await getAll(stale.base);
    assert.equal(cached.id, a.id, 'a deleted sample is still served');
  });
  test('4.2 the next create refreshes: deleted rows vanish, order is submitted_at desc', async () => {
    const b = await createSample(stale.base, { sampleName: 'B' });
    const c = await createSample(stale.base, { sampleName: 'C' });
    const list = await getAll(stale.base);
    assert.deepEqual(list.map((s) => s.id), [c.id, b.id]);
  });
  test('4.2 a failed create does not clear the snapshot', async () => {
    const before = await getAll(stale.base);
    await mutate(stale.base, 'nanopore.updateStatus', { id: before[0].id, status: 'archived' });
    assert.equal((await mutate(stale.base, 'nanopore.create', { sampleName: '' })).status, 400);
    assert.equal((await getAll(stale.base))[0].status, before[0].status);
  });
  test('4.2 the snapshot expires after the TTL (--getall-ttl 1)', async () => {
    const s = await createSample(short.base);
    assert.equal((await getAll(short.base))[0].status, 'submitted');
    await mutate(short.base, 'nanopore.updateStatus', { id: s.id, status: 'prep' });
    assert.equal((await getAll(short.base))[0].status, 'submitted', 'stale right after the update');
    const deadline = Date.now() + 30_000;
    let status;
    do {
      [{ status }] = await getAll(short.base);
    } while (status !== 'prep' && Date.now() < deadline);
    assert.equal(status, 'prep');
  });
  test('4.2 --getall-ttl 0 disables the snapshot', async () => {
    const s = await createSample(fresh.base);
    await getAll(fresh.base);
    await mutate(fresh.base, 'nanopore.updateStatus', { id: s.id, status: 'analysis' });
    assert.equal((await getAll(fresh.base))[0].status, 'analysis');
  });
  test('10 the snapshot belongs to one process: another replica sees fresh data', async () => {
    const other = await startStandin(stale.dbUrl);
    try {
      const [mine] = await getAll(stale.base);
      const [theirs] = await getAll(other.url);
      assert.equal(theirs.id, mine.id);
      assert.equal(theirs.status, 'archived');
      assert.notEqual(mine.status, 'archived');
    } finally {
      await other.stop();
    }
  });
});
