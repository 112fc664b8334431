import { runAb } from './ab.js';
import { performance } from 'node:perf_hooks';
import { contenderCpuSeconds, type Contender, type ContenderName, type Contenders } from './contenders.js';
import { figureOf, sampleInTurn, type Figure, type Samples, type Target } from './figure.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import { median } from './stats.js';
import { runWrk, type WrkOptions } from './wrk.js';

/** What one run of a load tool (wrk, ab) gives: the figure's value, and how many requests made it. */
export interface LoadRun {
  value: number;
  requests: number;
}

/** A throughput figure: a load tool run against each contender for a fixed time. */
export interface LoadSpec<N extends string = ContenderName> {
  name: string;
  unit: string;
  digits: number;
  target?: Target;
  run(contender: Contender<N>, seconds: number): Promise<LoadRun>;
}

/**
 * One warm-up run each (JIT, caches, connection pools), then runs taking the contenders in turn;
 * beside the figure, each server's CPU time per request and how many cores it kept busy, which
 * tell a server at its limit from a load tool at its own (wrk and the server share the 2 cores).
 */
export async function loadFigureOf<N extends string>(spec: LoadSpec<N>, contenders: ReadonlyArray<Contender<N>>, settings: BenchSettings): Promise<Figure<N>> {
  for (const contender of contenders) await spec.run(contender, settings.warmupSeconds);
  const empty = (): Samples<N> => Object.fromEntries(contenders.map((contender) => [contender.name, [] as number[]])) as Samples<N>;
  const cpuMicros = empty();
  const busyCores = empty();
  const samples = await sampleInTurn<N, Contender<N>>(settings.pairs, contenders, async (contender) => {
    const cpuBefore = contenderCpuSeconds(contender);
    const started = performance.now();
    const result = await spec.run(contender, settings.loadSeconds);
    const cpu = contenderCpuSeconds(contender) - cpuBefore;
    cpuMicros[contender.name].push((cpu / Math.max(1, result.requests)) * 1e6);
    busyCores[contender.name].push(cpu / ((performance.now() - started) / 1000));
    return result.value;
  });
  const figure = figureOf<N>(spec.name, spec.unit, spec.digits, samples, spec.target);
  const each = (values: Samples<N>, digits: number): string => contenders.map((contender) => median(values[contender.name]).toFixed(digits)).join(' / ');
  figure.detail = `server CPU per request ${each(cpuMicros, 0)} µs, cores busy ${each(busyCores, 2)}`;
  return figure;
}

/** loadFigureOf for the comparison: porthole and distribution alternately. */
export function loadFigure(spec: LoadSpec, contenders: Contenders, settings: BenchSettings): Promise<Figure> {
  return loadFigureOf(spec, [contenders.porthole, contenders.distribution], settings);
}

/**
 * wrk's answer timeout for the figures: a slow answer (a catalog page of a registry that walks its
 * storage for it, 32 at a time) is measured as slow, not counted as a socket error.
 */
const ANSWER_TIMEOUT_SECONDS = 30;

/** A wrk run against a path of a registry, as req/s or MiB/s; every answer must be a 2xx and no socket may fail. */
export async function wrkLoad(contender: Pick<Contender<string>, 'name' | 'url'>, path: string, options: WrkOptions, measure: 'req/s' | 'MiB/s'): Promise<LoadRun> {
  const result = await runWrk(`${contender.url}${path}`, { timeoutSeconds: ANSWER_TIMEOUT_SECONDS, ...options });
  if (result.non2xx > 0 || result.socketErrors > 0) {
    throw new Error(`${contender.name} GET ${path}: ${result.non2xx} non-2xx answers, ${result.socketErrors} socket errors`);
  }
  return { value: measure === 'req/s' ? result.requestsPerSecond : result.bytesPerSecond / MEBIBYTE, requests: result.requests };
}

/** HEAD load on one path with ab (wrk cannot send HEAD: it waits for a body), -c32 keep-alive; any failed request fails the figure. */
export async function headLoad(contender: Pick<Contender<string>, 'name' | 'url'>, path: string, seconds: number): Promise<LoadRun> {
  const result = await runAb(`${contender.url}${path}`, { seconds, connections: 32, head: true });
  if (result.failed > 0) throw new Error(`${contender.name} HEAD ${path}: ${result.failed} failed requests`);
  return { value: result.requestsPerSecond, requests: result.requests };
}
