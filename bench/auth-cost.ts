/**
 * The cost of authentication (issue 14), measured on this machine in one run: a manifest GET by
 * tag and a 1 MiB blob GET, by wrk (-t2 -c32), against
 *  - porthole without auth,
 *  - porthole with HTTP Basic auth from an htpasswd file (bcrypt; every request carries the
 *    credentials, as registry clients send them),
 *  - porthole with bearer tokens of its own realm (one token, fetched once with the Basic
 *    credentials and sent with every request, as clients do until it expires),
 *  - docker-registry (distribution 2.8) with its htpasswd auth, the same way.
 * Rounds take the contenders in turn; each figure is the median of its rounds. Targets: porthole
 * with auth at least 0.8 of porthole without; at least 2.0 of docker-registry with htpasswd on
 * manifests, for Basic and for tokens.
 * Run: npm run bench:auth [-- --quick]. Prints a Markdown table.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startDistribution, type DistributionProcess } from '../test/helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../test/helpers/porthole-process.js';
import { makeImage, type Image } from '../test/helpers/registry-client.js';
import { basicAuthorization } from '../test/helpers/basic-auth.js';
import { median } from './lib/stats.js';
import { runWrk } from './lib/wrk.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 6;
const USER = 'bench';
const PASSWORD = 'bench-password';
const AUTHORIZATION = basicAuthorization(USER, PASSWORD);
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

interface Contender {
  title: string;
  manifestUrl: string;
  blobUrl: string;
  headers: Record<string, string>;
  manifests: number[];
  blobs: number[];
  stop(): Promise<void>;
}

const work = await tempDir('bench-auth');
const htpasswd = join(work, 'htpasswd');
execFileSync('htpasswd', ['-cbB', htpasswd, USER, PASSWORD]);

async function quietPorthole(root: string, config: string): Promise<PortholeProcess> {
  const audit = join(work, `audit-${Date.now()}.log`);
  return startPorthole({ config: `log:\n  level: warn\n  audit: ${audit}\n${config}`, logLevel: null, announcedIn: audit, root });
}

/** A porthole (with `config`) serving one image, pushed by a porthole without auth on the same storage. */
async function portholeWith(name: string, config: string): Promise<{ porthole: PortholeProcess; image: Image }> {
  const root = join(work, name);
  const seeding = await quietPorthole(root, '');
  const image = await makeImage(seeding.url, 'bench/app', { tag: 'v1', layerSize: 1024 * 1024 });
  await seeding.stop();
  return { porthole: await quietPorthole(root, config), image };
}

async function distributionWithHtpasswd(): Promise<{ distribution: DistributionProcess; image: Image }> {
  const root = join(work, 'distribution');
  const seeding = await startDistribution({ root });
  const image = await makeImage(seeding.url, 'bench/app', { tag: 'v1', layerSize: 1024 * 1024, blobStyle: 'post-put' });
  await seeding.dispose();
  return { distribution: await startDistribution({ root, basicAuth: { username: USER, password: PASSWORD } }), image };
}

/** A pull token for bench/app from porthole's own realm, for the Basic user. */
async function tokenFor(url: string): Promise<string> {
  const response = await fetch(`${url}/auth/token?service=bench&scope=repository:bench/app:pull`, { headers: { authorization: AUTHORIZATION } });
  if (response.status !== 200) throw new Error(`GET /auth/token: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

const contenders: Contender[] = [];
/** A contender serving `image` at `url`; `stop` ends it. */
function contender(title: string, url: string, image: Image, headers: Record<string, string>, stop: () => Promise<unknown>): Contender {
  return {
    title,
    manifestUrl: `${url}/v2/bench/app/manifests/v1`,
    blobUrl: `${url}/v2/bench/app/blobs/${image.layerDigest}`,
    headers,
    manifests: [],
    blobs: [],
    stop: async () => {
      await stop();
    },
  };
}
try {
  const open = await portholeWith('open', '');
  contenders.push(contender('porthole, no auth', open.porthole.url, open.image, {}, () => open.porthole.stop()));
  const basic = await portholeWith('basic', `auth:\n  htpasswd:\n    path: ${htpasswd}\n`);
  contenders.push(contender('porthole, Basic auth (htpasswd)', basic.porthole.url, basic.image, { authorization: AUTHORIZATION }, () => basic.porthole.stop()));
  const tokens = await portholeWith('tokens', `auth:\n  htpasswd:\n    path: ${htpasswd}\n  token:\n    service: bench\n    expiry: 1h\n`);
  const token = await tokenFor(tokens.porthole.url);
  contenders.push(contender('porthole, bearer tokens (its own realm)', tokens.porthole.url, tokens.image, { authorization: `Bearer ${token}` }, () => tokens.porthole.stop()));
  const registry = await distributionWithHtpasswd();
  contenders.push(contender('docker-registry 2.8, htpasswd', registry.distribution.url, registry.image, { authorization: AUTHORIZATION }, () => registry.distribution.dispose()));
  for (const each of contenders) {
    // Warm-up, and a check that the credentials are taken.
    const warm = await runWrk(each.manifestUrl, { seconds: 1, headers: { ...each.headers, accept: MANIFEST_ACCEPT } });
    if (warm.non2xx > 0) throw new Error(`${each.title}: ${warm.non2xx} failed requests`);
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let turn = 0; turn < contenders.length; turn += 1) {
      const contender = contenders[(round + turn) % contenders.length] as Contender;
      const manifests = await runWrk(contender.manifestUrl, { seconds: SECONDS, headers: { ...contender.headers, accept: MANIFEST_ACCEPT } });
      const blobs = await runWrk(contender.blobUrl, { seconds: SECONDS, headers: contender.headers });
      if (manifests.non2xx + blobs.non2xx > 0) throw new Error(`${contender.title}: failed requests`);
      contender.manifests.push(manifests.requestsPerSecond);
      contender.blobs.push(blobs.requestsPerSecond);
    }
  }
} finally {
  for (const contender of contenders) await contender.stop();
  await cleanup(work);
}

type Figures = { manifests: number; blobs: number };
const [open, basic, bearer, registry] = contenders.map((each) => ({ manifests: median(each.manifests), blobs: median(each.blobs) })) as [Figures, Figures, Figures, Figures];
console.log(`${ROUNDS} rounds of ${SECONDS} s wrk runs (-t2 -c32) per figure, medians.\n`);
console.log('| contender | manifest GET req/s | 1 MiB blob GET req/s |');
console.log('| --- | --- | --- |');
contenders.forEach((each) => console.log(`| ${each.title} | ${median(each.manifests).toFixed(0)} | ${median(each.blobs).toFixed(0)} |`));
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log('\n| ratio | manifests | blobs | target | result |');
console.log('| --- | --- | --- | --- | --- |');
for (const [name, figures] of [['Basic auth', basic], ['bearer tokens', bearer]] as const) {
  console.log(`| porthole with ${name} / without | ${ratio(figures.manifests, open.manifests)} | ${ratio(figures.blobs, open.blobs)} | ≥ 0.8 | ${figures.manifests / open.manifests >= 0.8 && figures.blobs / open.blobs >= 0.8 ? 'pass' : '**FAIL**'} |`);
  console.log(`| porthole with ${name} / docker-registry with htpasswd | ${ratio(figures.manifests, registry.manifests)} | ${ratio(figures.blobs, registry.blobs)} | ≥ 2.0 (manifests) | ${figures.manifests / registry.manifests >= 2 ? 'pass' : '**FAIL**'} |`);
}
