/**
 * What replicas share through Redis (src/coordination), against a real redis-server: leases and
 * the locks made of them, single flights, shared values, the limits on guessing passwords, and
 * what each does while Redis is away. Two RedisCoordination instances stand for two replicas.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { RedisCoordination } from '../../src/coordination/redis-coordination.js';
import { RegistryError } from '../../src/core/errors.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';

describe('coordination through Redis', { skip: skipUnlessTools('redis-server'), timeout: 60_000 }, () => {
  let redis: RedisProcess;
  let one: RedisCoordination;
  let two: RedisCoordination;
  let prefixes = 0;

  const replica = async (): Promise<RedisCoordination> => {
    const coordination = new RedisCoordination({ url: redis.url, keyPrefix: 'test:' }, memoryLogger('fatal').logger);
    await coordination.start();
    return coordination;
  };
  /** A key of its own for each test. */
  const fresh = (): string => `k${(prefixes += 1)}`;

  before(async () => {
    redis = await startRedis();
    one = await replica();
    two = await replica();
  });
  after(async () => {
    await one?.close();
    await two?.close();
    await redis?.stop();
  });

  test('a lease is held by one replica at a time, renewed while held, released only by its holder', async () => {
    const key = fresh();
    const lease = await one.leases.tryAcquire(key, 300, 'one');
    assert.ok(lease);
    assert.equal(await two.leases.tryAcquire(key, 300), undefined, 'taken');
    assert.equal(await two.leases.holder(key), 'one');
    await sleep(700);
    assert.ok(lease.held(), 'renewed past its time to live');
    assert.equal(await two.leases.tryAcquire(key, 300), undefined, 'still taken');
    await lease.release();
    const taken = await two.leases.tryAcquire(key, 300);
    assert.ok(taken, 'free once released');
    await lease.release();
    assert.equal(await one.leases.tryAcquire(key, 300), undefined, 'a second release by the old holder frees nothing');
    await taken.release();
  });

  test('a lease whose holder stops renewing (a killed replica) frees itself', async () => {
    const key = fresh();
    await one.link.run((client) => client.set(key, 'dead replica\ntoken', 'PX', 200));
    assert.equal(await two.leases.tryAcquire(key, 5_000), undefined);
    await sleep(300);
    const lease = await two.leases.tryAcquire(key, 5_000);
    assert.ok(lease);
    await lease.release();
  });

  test('keyed locks serialise work on one key across replicas, and let other keys run at once', async () => {
    const key = fresh();
    const order: string[] = [];
    const work = (who: string, ms: number) => async () => {
      order.push(`${who} in`);
      await sleep(ms);
      order.push(`${who} out`);
    };
    const locksOne = one.keyedLocks('upload');
    const locksTwo = two.keyedLocks('upload');
    await Promise.all([locksOne.run(key, work('one', 150)), sleep(20).then(() => locksTwo.run(key, work('two', 10)))]);
    assert.deepEqual(order, ['one in', 'one out', 'two in', 'two out']);
    const started = Date.now();
    await Promise.all([locksOne.run(fresh(), () => sleep(150)), locksTwo.run(fresh(), () => sleep(150))]);
    assert.ok(Date.now() - started < 290, 'different keys do not wait for each other');
  });

  test('job locks: a second replica is told who holds one, and may take it once released', async () => {
    const path = `jobs/${fresh()}.lock`;
    const held = await one.jobLocks.acquire(path, 'gc');
    assert.ok('release' in held);
    const refused = await two.jobLocks.acquire(path, 'gc');
    assert.ok('heldBy' in refused);
    assert.equal(refused.heldBy.purpose, 'gc');
    assert.equal(refused.heldBy.pid, process.pid);
    await held.release();
    const taken = await two.jobLocks.acquire(path, 'gc');
    assert.ok('release' in taken);
    await taken.release();
  });

  test('flights: one replica takes a key, the other sees it held until released', async () => {
    const key = fresh();
    const flight = await one.flights.take(key);
    assert.ok(flight);
    assert.equal(await two.flights.take(key), undefined);
    assert.equal(await two.flights.held(key), true);
    await flight.release();
    assert.equal(await two.flights.held(key), false);
  });

  test('shared values: what one replica sets the other reads, until its time to live ends', async () => {
    const key = fresh();
    await one.values.set(key, 'figures', 300);
    assert.equal(await two.values.get(key), 'figures');
    await sleep(400);
    assert.equal(await two.values.get(key), undefined);
  });

  test('failed logins are counted across replicas, in windows that end', async () => {
    const settings = { limit: 3, userLimit: 5, windowMs: 1_500 };
    const address = `10.1.0.${(prefixes += 1)}`;
    const limitsOne = one.loginLimits(settings);
    const limitsTwo = two.loginLimits(settings);
    await limitsOne.failed(address, 'alice');
    await limitsTwo.failed(address, 'alice');
    assert.equal(await limitsOne.retryAfter(address, 'bob'), 0, 'two failures: not yet');
    await limitsTwo.failed(address, 'alice');
    assert.ok((await limitsOne.retryAfter(address, 'bob')) > 0, 'the third, on the other replica, locks the address on this one');
    await sleep(1_600);
    assert.equal(await limitsOne.retryAfter(address, 'bob'), 0, 'the window has ended');
  });

  test('with Redis away: writes are refused with 503, reads of shared state find nothing, and it comes back', async () => {
    await redis.stop();
    try {
      await waitFor('the replica to see Redis gone', () => !one.link.available());
      const refusal = one.writeRefusal();
      assert.ok(refusal instanceof RegistryError);
      assert.equal(refusal.status, 503);
      await assert.rejects(one.keyedLocks('upload').run(fresh(), async () => undefined), (err: RegistryError) => err.status === 503);
      assert.ok(await one.flights.take(fresh()), 'downloads go on, uncoordinated');
      assert.equal(await one.values.get(fresh()), undefined);
      const limits = one.loginLimits({ limit: 1, userLimit: 1, windowMs: 60_000 });
      await limits.failed('10.9.9.9', 'mallory');
      assert.ok((await limits.retryAfter('10.9.9.9', 'mallory')) > 0, 'each replica still counts alone');
    } finally {
      await redis.start();
    }
    await waitFor('the replica to reconnect', () => one.link.available(), 10_000);
    assert.equal(one.writeRefusal(), undefined);
  });
});
