import { randomBytes } from 'node:crypto';
import { eachBounded } from './bounded.js';
import { pushImage, putManifest, uploadBlob } from './image-transfer.js';
import { MANIFEST_ACCEPT } from '../core/media-types.js';
import { ARTIFACT_TYPE, EMPTY_MEDIA_TYPE, imageManifest, scope } from './oci.js';
import { MEDIA_TYPES } from '../core/media-types.js';
import { TINY_LAYER_BYTES } from './sizes.js';
import { smallBlob } from './test-data.js';
import { SkipTest, type BenchTest, type TestContext, type TestPlan } from './test-plan.js';

/** Repositories made for Get Catalog: as many as requests (zb pushes one per request), at most this many. */
const CATALOG_REPOSITORIES = 100;
/** Tags of the one image of Get Tags List. */
const TAGS = 100;
/** Artifacts referring to the subject of Get Referrers. */
const REFERRERS = 10;
const SETUP_CONCURRENCY = 4;

function tinyLayer() {
  return smallBlob(randomBytes(TINY_LAYER_BYTES));
}

export const getCatalog: BenchTest = {
  name: 'Get Catalog',
  summary: `GET /v2/_catalog (one page, as the registry serves it by default), after pushing a small image into each of min(-n, ${CATALOG_REPOSITORIES}) repositories`,
  plan(context: TestContext): TestPlan {
    return {
      async setup() {
        const count = Math.min(context.requests, CATALOG_REPOSITORIES);
        await eachBounded(count, SETUP_CONCURRENCY, async (index) => {
          await pushImage(context.target, context.setupRecorder, context.ledger, `${context.repo}/${index}`, 'latest', tinyLayer(), 'monolith');
        });
      },
      async operation(_index, recorder) {
        await context.target.send({ method: 'GET', target: 'v2/_catalog', scope: scope.catalog, what: 'GET catalog', expect: [200] }, recorder);
      },
    };
  },
};

function manifestTest(name: string, method: 'GET' | 'HEAD'): BenchTest {
  return {
    name,
    summary: `${method} of one small image's manifest by tag per request: the registry's request rate (use a high -c and -n)`,
    plan(context: TestContext): TestPlan {
      return {
        async setup() {
          await pushImage(context.target, context.setupRecorder, context.ledger, context.repo, 'latest', tinyLayer(), 'monolith');
        },
        async operation(_index, recorder) {
          await context.target.send(
            { method, target: `v2/${context.repo}/manifests/latest`, scope: scope.pull(context.repo), what: `${method} manifest`, headers: { accept: MANIFEST_ACCEPT }, expect: [200] },
            recorder,
          );
        },
      };
    },
  };
}

export const getManifest = manifestTest('Get Manifest', 'GET');
export const headManifest = manifestTest('Head Manifest', 'HEAD');

export const getTagsList: BenchTest = {
  name: 'Get Tags List',
  summary: `GET /v2/<name>/tags/list of a repository holding one image under ${TAGS} tags`,
  plan(context: TestContext): TestPlan {
    return {
      async setup() {
        const image = await pushImage(context.target, context.setupRecorder, context.ledger, context.repo, undefined, tinyLayer(), 'monolith');
        const manifest = await fetchManifest(context, image.manifestDigest);
        await eachBounded(TAGS, SETUP_CONCURRENCY, async (index) => {
          await putManifest(context.target, context.setupRecorder, context.repo, `tag-${index}`, manifest);
        });
      },
      async operation(_index, recorder) {
        await context.target.send({ method: 'GET', target: `v2/${context.repo}/tags/list`, scope: scope.pull(context.repo), what: 'GET tags list', expect: [200] }, recorder);
      },
    };
  },
};

async function fetchManifest(context: TestContext, digest: string): Promise<Buffer> {
  const result = await context.target.send(
    { method: 'GET', target: `v2/${context.repo}/manifests/${digest}`, scope: scope.pull(context.repo), what: 'GET manifest', headers: { accept: MANIFEST_ACCEPT }, keepBody: 4 * 1024 * 1024, expect: [200] },
    context.setupRecorder,
  );
  return result.body ?? Buffer.alloc(0);
}

/** The empty config of artifacts ({}), as the image spec defines it. */
const EMPTY_CONFIG = smallBlob(Buffer.from('{}'));

export const getReferrers: BenchTest = {
  name: 'Get Referrers',
  summary: `GET /v2/<name>/referrers/<digest> of an image with ${REFERRERS} artifacts referring to it (skipped when the registry has no referrers API)`,
  plan(context: TestContext): TestPlan {
    let subject = '';
    return {
      handoff: () => ({ subject }),
      adopt(state) {
        subject = state.subject ?? '';
      },
      async setup() {
        const image = await pushImage(context.target, context.setupRecorder, context.ledger, context.repo, 'subject', tinyLayer(), 'monolith');
        subject = image.manifestDigest;
        const probe = await context.target.send(
          { method: 'GET', target: `v2/${context.repo}/referrers/${subject}`, scope: scope.pull(context.repo), what: 'GET referrers', expect: [200, 404] },
          context.setupRecorder,
        );
        if (probe.status === 404) throw new SkipTest('the registry has no referrers API (GET /v2/<name>/referrers/<digest> answered 404)');
        await uploadBlob(context.target, context.setupRecorder, context.repo, EMPTY_CONFIG, 'monolith');
        context.ledger.blob(context.repo, EMPTY_CONFIG.digest);
        const descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: subject, size: image.manifestSize };
        // One at a time: each artifact is a manifest the cleanup deletes before the subject.
        for (let index = 0; index < REFERRERS; index += 1) {
          const layer = tinyLayer();
          await uploadBlob(context.target, context.setupRecorder, context.repo, layer, 'monolith');
          context.ledger.blob(context.repo, layer.digest);
          const manifest = imageManifest({ mediaType: EMPTY_MEDIA_TYPE, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.size }, [{ mediaType: 'application/octet-stream', digest: layer.digest, size: layer.size }], {
            subject: descriptor,
            artifactType: ARTIFACT_TYPE,
          });
          const digest = await putManifest(context.target, context.setupRecorder, context.repo, `sha256:${sha256Hex(manifest)}`, manifest);
          context.ledger.manifest(context.repo, digest);
        }
      },
      async operation(_index, recorder) {
        await context.target.send(
          { method: 'GET', target: `v2/${context.repo}/referrers/${subject}`, scope: scope.pull(context.repo), what: 'GET referrers', headers: { accept: MEDIA_TYPES.ociIndex }, expect: [200] },
          recorder,
        );
      },
    };
  },
};

function sha256Hex(bytes: Buffer): string {
  return smallBlob(bytes).digest.slice('sha256:'.length);
}
