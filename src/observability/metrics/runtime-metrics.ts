import { performance } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Node runtime figures that prom-client's default metrics leave out, declared once here and
 * registered beside them (catalogue.ts): the event loop's busy time, from which its utilisation
 * is a rate (so any number of scrapers read the same figure), and the bytes of ArrayBuffers and
 * SharedArrayBuffers (Buffers included), which live outside the V8 heap.
 */
export function declareRuntimeMetrics(registry: Registry): void {
  const registers = [registry];
  // eventLoopUtilization() is cumulative since the loop started: the counter follows it.
  let counted = 0;
  new Counter({
    name: 'porthole_runtime_eventloop_active_seconds_total',
    help: 'Time the event loop spent busy (not waiting for I/O or timers) since the process started; its rate is the event-loop utilisation, from 0 to 1.',
    registers,
    collect() {
      const active = performance.eventLoopUtilization().active / 1000;
      if (active > counted) {
        this.inc(active - counted);
        counted = active;
      }
    },
  });
  new Gauge({
    name: 'porthole_runtime_array_buffers_bytes',
    help: 'Bytes allocated for ArrayBuffers and SharedArrayBuffers, Node Buffers included (process.memoryUsage().arrayBuffers); part of nodejs_external_memory_bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage().arrayBuffers);
    },
  });
}
