import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { durationMs, isDuration } from '../config/durations.js';
import type { Credentials } from './authenticator.js';
import { defaultThreads } from './threads.js';

export const OUTPUT_FORMATS = ['stdout', 'json', 'ci-cd', 'openmetrics'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The environment variable -A falls back to. */
export const AUTH_ENV = 'PORTHOLE_BENCH_AUTH';
const DEFAULT_TIMEOUT = '60s';

export interface BenchOptions {
  url: string;
  concurrency: number;
  /** Worker threads the clients are spread over (1: all on the main thread). */
  threads: number;
  requests: number;
  testRegex: RegExp | undefined;
  listTests: boolean;
  credentials: Credentials | undefined;
  /** Where credentials came from, for the header of the report (never the password). */
  credentialsFrom: '-A' | typeof AUTH_ENV | undefined;
  repo: string;
  output: OutputFormat;
  pushgateway: string | undefined;
  compare: string | undefined;
  upstream: string | undefined;
  upstreamNamespace: string;
  skipCleanup: boolean;
  workingDir: string;
  maxTimeoutFailures: number;
  insecure: boolean;
  ca: string | undefined;
  timeoutMs: number;
}

/** What commander hands over: strings, booleans, undefined. */
export interface RawOptions {
  concurrency?: string;
  threads?: string;
  requests?: string;
  testRegex?: string;
  listTests?: boolean;
  authCreds?: string;
  repo?: string;
  output?: string;
  pushgateway?: string;
  compare?: string;
  upstream?: string;
  upstreamNamespace?: string;
  skipCleanup?: boolean;
  workingDir?: string;
  maxTimeoutFailures?: string;
  insecure?: boolean;
  ca?: string;
  timeout?: string;
}

/** Flags that cannot be used as given: every problem at once, the run exits 2. */
export class OptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'OptionsError';
  }
}

function whole(raw: string | undefined, fallback: number, min: number, flag: string, problems: string[]): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    problems.push(`${flag}: "${raw}" is not a whole number of at least ${min}`);
    return fallback;
  }
  return value;
}

function registryUrl(raw: string | undefined, flag: string, problems: string[]): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`${flag}: "${raw}" is not a URL: write it with its scheme, such as http://127.0.0.1:5000 or https://registry.example`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${flag}: "${raw}" is not an http or https URL`);
    return undefined;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    problems.push(`${flag}: "${raw}" must not carry credentials, a query or a fragment (give credentials with -A)`);
    return undefined;
  }
  return url.href.replace(/\/+$/, '');
}

/** A repository name of the distribution spec: lower-case components separated by slashes. */
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

function credentialsOf(raw: string | undefined, source: string, problems: string[]): Credentials | undefined {
  if (raw === undefined || raw === '') return undefined;
  const colon = raw.indexOf(':');
  if (colon <= 0) {
    problems.push(`${source}: write the credentials as user:password`);
    return undefined;
  }
  return { username: raw.slice(0, colon), password: raw.slice(colon + 1) };
}

/** The flags (and PORTHOLE_BENCH_AUTH) as options, with their defaults; OptionsError lists what is wrong. */
export function parseOptions(urlArgument: string | undefined, raw: RawOptions, env: NodeJS.ProcessEnv): BenchOptions {
  const problems: string[] = [];
  const listTests = raw.listTests === true;
  const url = registryUrl(urlArgument, 'URL', problems);
  if (url === undefined && !listTests && urlArgument === undefined) problems.push('URL: give the registry to benchmark, such as http://127.0.0.1:5000');
  let testRegex: RegExp | undefined;
  if (raw.testRegex !== undefined && raw.testRegex !== '') {
    try {
      testRegex = new RegExp(raw.testRegex);
    } catch (err) {
      problems.push(`-t, --test-regex: ${(err as Error).message}`);
    }
  }
  const fromFlag = raw.authCreds !== undefined && raw.authCreds !== '';
  const credentials = credentialsOf(fromFlag ? raw.authCreds : env[AUTH_ENV], fromFlag ? '-A, --auth-creds' : AUTH_ENV, problems);
  const output = raw.output ?? 'stdout';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) problems.push(`-o, --output: "${output}" is not one of ${OUTPUT_FORMATS.join(', ')}`);
  const repo = raw.repo ?? `porthole-bench/${randomBytes(4).toString('hex')}`;
  if (!REPOSITORY.test(repo)) problems.push(`-r, --repo: "${repo}" is not a repository name (lower-case letters, digits, separators . _ -, components joined by /)`);
  const upstreamNamespace = (raw.upstreamNamespace ?? '').replace(/^\/+|\/+$/g, '');
  if (upstreamNamespace !== '' && !/^[A-Za-z0-9._:-]+(?:\/[A-Za-z0-9._:-]+)*$/.test(upstreamNamespace)) problems.push(`--upstream-namespace: "${raw.upstreamNamespace}" is not a path of names`);
  const timeoutText = raw.timeout ?? DEFAULT_TIMEOUT;
  let timeoutMs = 60_000;
  if (/^\d+(\.\d+)?$/.test(timeoutText)) timeoutMs = Math.round(Number(timeoutText) * 1000);
  else if (isDuration(timeoutText)) timeoutMs = durationMs(timeoutText);
  else problems.push(`--timeout: "${timeoutText}" is not a duration: write seconds or a number and a unit, such as 30s, 2m or 500ms`);
  if (timeoutMs <= 0) problems.push('--timeout: must be longer than zero');
  const compare = registryUrl(raw.compare, '--compare', problems);
  const upstream = registryUrl(raw.upstream, '--upstream', problems);
  const pushgateway = raw.pushgateway === undefined ? undefined : pushgatewayUrl(raw.pushgateway, problems);
  const concurrency = whole(raw.concurrency, 1, 1, '-c, --concurrency', problems);
  const options: BenchOptions = {
    url: url ?? '',
    concurrency,
    threads: whole(raw.threads, defaultThreads(concurrency), 1, '--threads', problems),
    requests: whole(raw.requests, 1, 1, '-n, --requests', problems),
    testRegex,
    listTests,
    credentials,
    credentialsFrom: credentials === undefined ? undefined : fromFlag ? '-A' : AUTH_ENV,
    repo,
    output: output as OutputFormat,
    pushgateway,
    compare,
    upstream,
    upstreamNamespace,
    skipCleanup: raw.skipCleanup === true,
    workingDir: raw.workingDir ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'porthole-bench'),
    maxTimeoutFailures: whole(raw.maxTimeoutFailures, 0, 0, '--max-timeout-failures', problems),
    insecure: raw.insecure === true,
    ca: raw.ca,
    timeoutMs,
  };
  if (problems.length > 0) throw new OptionsError(problems);
  return options;
}

function pushgatewayUrl(raw: string, problems: string[]): string | undefined {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw;
  } catch {
    // Reported below.
  }
  problems.push(`--pushgateway: "${raw}" is not an http or https URL`);
  return undefined;
}
