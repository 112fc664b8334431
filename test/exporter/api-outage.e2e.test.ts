import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { collectionCount, startApiExporter, type ApiExporterProcess } from '../helpers/api-exporter-process.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { freePort } from '../helpers/free-port.js';
import type { LogLine } from '../helpers/log-lines.js';
import type { Exposition } from '../helpers/prometheus-text.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { makeImage } from '../helpers/registry-client.js';
import { skipUnlessTools } from '../helpers/tools.js';

/**
 * porthole-exporter's API mode when the target fails: a docker-registry stopped and started again
 * on the same port, a target that answers 500, one that answers HTML with 200, one that never
 * answers, and none at all. The exporter must keep serving /metrics (scrapes never wait on the
 * target), say oci_registry_up 0, log one warning per outage and one line when the target is back.
 */

const INTERVAL_MS = 1000;
const ARGS = ['--interval', '1s', '--timeout', '1s', '--enable-tls=false'];
/** One interval, and room for a busy 2-core machine to schedule the collection and the scrape. */
const WITHIN_AN_INTERVAL_MS = INTERVAL_MS + 1500;

/** A tiny HTTP server answering every request with `handler`, on loopback. */
async function startStub(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    requests++;
    handler(request, response);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function linesAt(exporter: ApiExporterProcess, level: string, from: number): LogLine[] {
  return exporter.logLines().slice(from).filter((line) => line.level === level);
}

function describeLines(lines: LogLine[]): string {
  return lines.map((line) => JSON.stringify(line)).join('\n');
}

describe('porthole-exporter api: outages and garbage', { timeout: 180_000, skip: skipUnlessTools('docker-registry', 'promtool') }, () => {
  let registry: DistributionProcess;
  let exporter: ApiExporterProcess;

  before(async () => {
    registry = await startDistribution();
    await makeImage(registry.url, 'outage/app', { tag: 'v1', blobStyle: 'post-put' });
    exporter = await startApiExporter({ connectionString: registry.url, args: ARGS });
  });

  after(async () => {
    await exporter?.dispose();
    await registry?.dispose();
  });

  /** Scrapes until `count` more collections have ended after `since`, asserting every scrape on the way. */
  async function throughCollections(since: Exposition, count: number, each: (exposition: Exposition) => void): Promise<Exposition> {
    const target = collectionCount(since) + count;
    return exporter.scrapeUntil(
      `${count} more collections`,
      (exposition) => {
        each(exposition);
        return collectionCount(exposition) >= target;
      },
      count * INTERVAL_MS + 10_000,
    );
  }

  /** Stops the registry; up goes to 0 within an interval, stays 0 while scrapes go on, and one warning is logged. */
  async function outage(warningsBefore: number): Promise<LogLine> {
    const mark = exporter.logLines().length;
    await registry.stop();
    const stoppedAt = Date.now();
    const down = await exporter.scrapeUntil('oci_registry_up 0 after the registry stopped', (exposition) => exposition.value('oci_registry_up') === 0, WITHIN_AN_INTERVAL_MS);
    const tookMs = Date.now() - stoppedAt;
    assert.ok(tookMs <= WITHIN_AN_INTERVAL_MS, `up 0 after ${tookMs} ms`);
    // Three more collections fail; every scrape still answers, and up stays 0.
    await throughCollections(down, 3, (exposition) => assert.equal(exposition.value('oci_registry_up'), 0));
    assert.equal(exporter.hasExited(), false);
    const warnings = linesAt(exporter, 'warn', mark);
    assert.equal(warnings.length, 1, `one warning for the outage, after ${collectionCount(await exporter.scrape())} collections:\n${describeLines(warnings)}`);
    assert.equal(linesAt(exporter, 'warn', 0).length, warningsBefore + 1);
    assert.deepEqual(linesAt(exporter, 'error', mark), [], 'an unreachable registry is a warning, not an error');
    return warnings[0] as LogLine;
  }

  /** Starts the registry again on its port; up goes to 1 within an interval, and one info line is logged. */
  async function recovery(): Promise<LogLine> {
    const mark = exporter.logLines().length;
    await registry.start();
    const startedAt = Date.now();
    const up = await exporter.scrapeUntil('oci_registry_up 1 after the registry came back', (exposition) => exposition.value('oci_registry_up') === 1, WITHIN_AN_INTERVAL_MS);
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs <= WITHIN_AN_INTERVAL_MS, `up 1 after ${tookMs} ms`);
    await throughCollections(up, 3, (exposition) => assert.equal(exposition.value('oci_registry_up'), 1));
    const infos = linesAt(exporter, 'info', mark);
    assert.equal(infos.length, 1, `one info line for the recovery:\n${describeLines(infos)}`);
    assert.deepEqual(linesAt(exporter, 'warn', mark), []);
    return infos[0] as LogLine;
  }

  it('a registry stopped and started again: up 0 then 1 within an interval, serving throughout, one line each way per outage', async () => {
    const healthy = await exporter.scrapeUntil('a first successful collection', (exposition) => exposition.value('oci_registry_up') === 1, 20_000);
    assert.equal(healthy.value('oci_registry_repositories'), 1);
    const warningsBefore = linesAt(exporter, 'warn', 0).length;
    const firstWarning = await outage(warningsBefore);
    const firstInfo = await recovery();
    // A second outage is a second line, with the same message.
    const secondWarning = await outage(warningsBefore + 1);
    const secondInfo = await recovery();
    assert.equal(secondWarning.msg, firstWarning.msg);
    assert.equal(secondInfo.msg, firstInfo.msg);
    const after = await exporter.scrape();
    assert.equal(after.value('oci_registry_repositories'), 1, 'the figures are back');
    assert.ok((after.value('oci_registry_collections_total', { outcome: 'success' }) ?? 0) >= 1);
    assert.ok(after.sum('oci_registry_collections_total') > (after.value('oci_registry_collections_total', { outcome: 'success' }) ?? 0), 'failed collections are counted under another outcome');
    assert.deepEqual(await promtoolCheckMetrics(after.text), { code: 0, stdout: '', stderr: '' });
  });

  /** Runs an exporter against `url` through three collections: up 0 each time, alive, lint-clean output, at most one warning. */
  async function staysDown(url: string, what: string): Promise<void> {
    const broken = await startApiExporter({ connectionString: url, args: ARGS });
    try {
      const first = await broken.collections(1, 15_000);
      const third = await broken.scrapeUntil(
        `3 collections against ${what}`,
        (exposition) => {
          if (collectionCount(exposition) >= 1) assert.equal(exposition.value('oci_registry_up'), 0, `oci_registry_up against ${what}`);
          return collectionCount(exposition) >= 3;
        },
        15_000,
      );
      assert.equal(first.value('oci_registry_up'), 0);
      assert.equal(broken.hasExited(), false, `still running against ${what}`);
      assert.deepEqual(await promtoolCheckMetrics(third.text), { code: 0, stdout: '', stderr: '' });
      const warnings = broken.logLines().filter((line) => line.level === 'warn');
      assert.ok(warnings.length <= 1, `at most one warning for one continuous failure against ${what}:\n${describeLines(warnings)}`);
    } finally {
      await broken.dispose();
    }
  }

  it('a target that answers 500 to everything: up 0, never a crash', async () => {
    const stub = await startStub((_request, response) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'internal error' }] }));
    });
    try {
      await staysDown(stub.url, 'a 500 target');
      assert.ok(stub.requests() >= 3, 'the exporter did ask it');
    } finally {
      await stub.close();
    }
  });

  it('a target that answers HTML with 200 to everything: up 0, never a crash', async () => {
    const stub = await startStub((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>\n');
    });
    try {
      await staysDown(stub.url, 'an HTML target');
      assert.ok(stub.requests() >= 3, 'the exporter did ask it');
    } finally {
      await stub.close();
    }
  });

  it('nothing listening at the start: it starts anyway and says up 0', async () => {
    await staysDown(`http://127.0.0.1:${await freePort()}`, 'a closed port');
  });

  it('a target that never answers: scrapes do not wait on it, and the collection times out to up 0', async () => {
    const stub = await startStub(() => {
      // Never answered: the exporter's --timeout (1 s) has to end the collection.
    });
    const hung = await startApiExporter({ connectionString: stub.url, args: ARGS });
    try {
      await hung.scrapeUntil('a request to reach the silent target', () => stub.requests() >= 1, 10_000);
      // A collection is stuck on the target right now; scrapes are answered anyway, and fast.
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        await hung.scrapeText();
        const tookMs = Date.now() - started;
        assert.ok(tookMs < 500, `a scrape took ${tookMs} ms while the target hung`);
      }
      const timedOut = await hung.collections(2, 15_000);
      assert.equal(timedOut.value('oci_registry_up'), 0);
      assert.equal(hung.hasExited(), false);
    } finally {
      await hung.dispose();
      await stub.close();
    }
  });
});
