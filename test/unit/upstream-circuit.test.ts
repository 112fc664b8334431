import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackgroundWork } from '../../src/proxy/background-work.js';
import { UpstreamCircuit, type CircuitChange } from '../../src/proxy/upstream-circuit.js';

/** A circuit on a clock the test moves, with every change it announced. */
function circuitOnClock(openMs = 1000, maxOpenMs = 4000) {
  let now = 1_000_000;
  const changes: CircuitChange[] = [];
  const circuit = new UpstreamCircuit({ openMs, maxOpenMs }, (change) => changes.push(change), () => now);
  return {
    circuit,
    changes,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('upstream circuit', () => {
  it('lets every request through while closed, and stays closed on success', () => {
    const { circuit, changes } = circuitOnClock();
    const tickets = [circuit.admit(), circuit.admit(), circuit.admit()];
    assert.ok(tickets.every((ticket) => ticket !== undefined && !ticket.probe));
    for (const ticket of tickets) if (ticket) circuit.succeeded(ticket);
    assert.equal(circuit.state, 'closed');
    assert.deepEqual(changes, []);
  });

  it('opens on a failure, admits nothing until the interval has passed, then one probe at a time', () => {
    const { circuit, changes, advance } = circuitOnClock();
    const ticket = circuit.admit();
    assert.ok(ticket);
    circuit.failed(ticket, 'no answer in time');
    assert.equal(circuit.state, 'open');
    assert.deepEqual(changes, [{ from: 'closed', to: 'open', reason: 'no answer in time', retryInMs: 1000 }]);
    assert.equal(circuit.admit(), undefined);
    assert.equal(circuit.retryInMs(), 1000);

    advance(999);
    assert.equal(circuit.admit(), undefined);
    advance(1);
    const probe = circuit.admit();
    assert.equal(probe?.probe, true);
    assert.equal(circuit.state, 'half_open');
    assert.equal(circuit.admit(), undefined, 'a second request while the probe runs is refused');
    assert.equal(circuit.admit(), undefined);
    if (probe) circuit.succeeded(probe);
    assert.equal(circuit.state, 'closed');
    assert.deepEqual(
      changes.map((change) => change.to),
      ['open', 'half_open', 'closed'],
    );
    assert.equal(circuit.admit()?.probe, false);
  });

  it('doubles the interval after each failed probe, up to its cap, and starts again from the first once closed', () => {
    const { circuit, changes, advance } = circuitOnClock(1000, 4000);
    const first = circuit.admit();
    if (first) circuit.failed(first, 'refused');
    for (const expected of [2000, 4000, 4000]) {
      advance(circuit.retryInMs());
      const probe = circuit.admit();
      assert.ok(probe?.probe);
      circuit.failed(probe, 'refused');
      assert.equal(changes.at(-1)?.retryInMs, expected);
      assert.equal(circuit.retryInMs(), expected);
    }
    advance(4000);
    const probe = circuit.admit();
    if (probe) circuit.succeeded(probe);
    const again = circuit.admit();
    if (again) circuit.failed(again, 'refused');
    assert.equal(circuit.retryInMs(), 1000);
  });

  it('ignores failures of requests sent before it opened, and closes on any answer', () => {
    const { circuit, changes, advance } = circuitOnClock();
    const early = [circuit.admit(), circuit.admit(), circuit.admit()];
    if (early[0]) circuit.failed(early[0], 'first');
    if (early[1]) circuit.failed(early[1], 'second');
    assert.equal(changes.length, 1, 'one opening, not one per failure');
    advance(1000);
    const probe = circuit.admit();
    assert.ok(probe?.probe);
    if (early[1]) circuit.failed(early[1], 'late');
    assert.equal(circuit.state, 'half_open', 'a late failure is not the probe failing');
    if (early[2]) circuit.succeeded(early[2]);
    assert.equal(circuit.state, 'closed', 'the upstream answered someone: it is there');
    circuit.succeeded(probe);
    assert.equal(circuit.state, 'closed');
  });
});

describe('background work', () => {
  it('runs one job per key at a time, and reports what a job did not handle', async () => {
    const unhandled: Array<[string, unknown]> = [];
    const work = new BackgroundWork((key, err) => unhandled.push([key, err]));
    let release: () => void = () => undefined;
    let runs = 0;
    const job = () => {
      runs += 1;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    assert.equal(work.start('a', job), true);
    assert.equal(work.start('a', job), false);
    assert.equal(work.start('b', () => Promise.reject(new Error('boom'))), true);
    assert.equal(runs, 1);
    release();
    await work.settled();
    assert.equal(work.size, 0);
    assert.equal(work.start('a', job), true, 'a new run once the first has ended');
    release();
    await work.settled();
    assert.deepEqual(unhandled.map(([key, err]) => [key, (err as Error).message]), [['b', 'boom']]);
  });
});
