import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { assertStatus, header } from '../helpers/assert-registry.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { descriptor, digestOf, makeImage, OCI_INDEX, OCI_MANIFEST, pushBlob, pushManifest, type Descriptor, type Image } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';

/** Spec "Pushing Manifests with Subject" and "Listing Referrers". */
const porthole = sharedPorthole();
const NAME = 'spec/referrers';
const EMPTY_CONFIG = Buffer.from('{}');
const EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
const SBOM = 'application/vnd.example.sbom.v1';
const SIGNATURE_CONFIG = 'application/vnd.example.signature.config.v1+json';
const BUNDLE = 'application/vnd.example.bundle.v1';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

function byDigest(a: Descriptor, b: Descriptor): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

async function listReferrers(subject: string, query = '', name = NAME): Promise<{ response: RawResponse; index: ReferrersIndex }> {
  const response = await raw(porthole().url, { path: `/v2/${name}/referrers/${subject}${query}` });
  assertStatus(response, 200);
  assert.equal(header(response, 'content-type'), OCI_INDEX);
  const index = response.json() as ReferrersIndex;
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, OCI_INDEX);
  index.manifests.sort(byDigest);
  return { response, index };
}

/** Pushes a referrer by digest and checks that porthole says it processed the subject. */
async function pushReferrer(json: Record<string, unknown>, mediaType: string, subject: string): Promise<{ digest: string; bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(json));
  const pushed = await pushManifest(porthole().url, NAME, digestOf(bytes), bytes, mediaType);
  assert.equal(header(pushed.response, 'oci-subject'), subject);
  return { digest: pushed.digest, bytes };
}

describe('referrers', () => {
  let subject: Image;
  /** The descriptors the referrers API must list for `subject`, sorted by digest. */
  let expected: Descriptor[];
  let sbomDigest: string;

  before(async () => {
    subject = await makeImage(porthole().url, NAME, { tag: 'app' });
    await pushBlob(porthole().url, NAME, EMPTY_CONFIG);
    const emptyConfig = descriptor(EMPTY_MEDIA_TYPE, EMPTY_CONFIG);
    const signatureConfig = Buffer.from(`{"key":"${randomBytes(4).toString('hex')}"}`);
    await pushBlob(porthole().url, NAME, signatureConfig);

    const sbomAnnotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' };
    const sbom = await pushReferrer(
      { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: SBOM, config: emptyConfig, layers: [], subject: subject.descriptor, annotations: sbomAnnotations },
      OCI_MANIFEST,
      subject.manifestDigest,
    );
    sbomDigest = sbom.digest;
    // No artifactType: the referrers API must report the config's media type instead.
    const signature = await pushReferrer(
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(SIGNATURE_CONFIG, signatureConfig), layers: [], subject: subject.descriptor },
      OCI_MANIFEST,
      subject.manifestDigest,
    );
    // An index without artifactType: the descriptor must omit it.
    const indexAnnotations = { 'org.example.kind': 'bundle-without-type' };
    const untypedIndex = await pushReferrer(
      { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject: subject.descriptor, annotations: indexAnnotations },
      OCI_INDEX,
      subject.manifestDigest,
    );
    const typedIndex = await pushReferrer(
      { schemaVersion: 2, mediaType: OCI_INDEX, artifactType: BUNDLE, manifests: [], subject: subject.descriptor },
      OCI_INDEX,
      subject.manifestDigest,
    );

    expected = [
      { mediaType: OCI_MANIFEST, digest: sbom.digest, size: sbom.bytes.length, artifactType: SBOM, annotations: sbomAnnotations },
      { mediaType: OCI_MANIFEST, digest: signature.digest, size: signature.bytes.length, artifactType: SIGNATURE_CONFIG },
      { mediaType: OCI_INDEX, digest: untypedIndex.digest, size: untypedIndex.bytes.length, annotations: indexAnnotations },
      { mediaType: OCI_INDEX, digest: typedIndex.digest, size: typedIndex.bytes.length, artifactType: BUNDLE },
    ].sort(byDigest);
  });

  it('lists every referrer with mediaType, size, artifactType (or the config type) and annotations', async () => {
    const { response, index } = await listReferrers(subject.manifestDigest);
    assert.deepEqual(index.manifests, expected);
    assert.equal(header(response, 'oci-filters-applied'), undefined);
  });

  it('filters on artifactType and says so in OCI-Filters-Applied', async () => {
    const { response, index } = await listReferrers(subject.manifestDigest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.deepEqual(
      index.manifests,
      expected.filter((d) => d.artifactType === SBOM),
    );
    assert.equal(index.manifests.length, 1);
    assert.equal(header(response, 'oci-filters-applied'), 'artifactType');
  });

  it('filters on the artifactType that fell back to the config media type', async () => {
    const { index } = await listReferrers(subject.manifestDigest, `?artifactType=${encodeURIComponent(SIGNATURE_CONFIG)}`);
    assert.deepEqual(index.manifests.map((d) => d.artifactType), [SIGNATURE_CONFIG]);
  });

  it('answers a filter that matches nothing with an empty index, still naming the filter', async () => {
    const { response, index } = await listReferrers(subject.manifestDigest, '?artifactType=application%2Fvnd.example.none');
    assert.deepEqual(index.manifests, []);
    assert.equal(header(response, 'oci-filters-applied'), 'artifactType');
  });

  it('answers a subject nobody refers to with 200 and an empty image index', async () => {
    const { response, index } = await listReferrers(digestOf(randomBytes(8)));
    assert.deepEqual(index, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    assert.equal(header(response, 'content-type'), OCI_INDEX);
  });

  it('answers 200 with an empty index for a repository that does not exist (never 404)', async () => {
    const { index } = await listReferrers(subject.manifestDigest, '', 'spec/referrers-nowhere');
    assert.deepEqual(index.manifests, []);
  });

  it('keeps referrers per repository', async () => {
    const { index } = await listReferrers(subject.manifestDigest, '', 'spec/referrers-other');
    assert.deepEqual(index.manifests, []);
  });

  it('accepts a referrer whose subject does not exist yet, and lists it under that digest', async () => {
    const absent = { mediaType: OCI_MANIFEST, digest: digestOf(randomBytes(8)), size: 123 };
    const early = await pushReferrer(
      { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: SBOM, config: descriptor(EMPTY_MEDIA_TYPE, EMPTY_CONFIG), layers: [], subject: absent },
      OCI_MANIFEST,
      absent.digest,
    );
    const { index } = await listReferrers(absent.digest);
    assert.deepEqual(index.manifests, [{ mediaType: OCI_MANIFEST, digest: early.digest, size: early.bytes.length, artifactType: SBOM }]);
  });

  it('drops a deleted referrer from the list', async () => {
    const deleted = await raw(porthole().url, { method: 'DELETE', path: `/v2/${NAME}/manifests/${sbomDigest}` });
    assertStatus(deleted, 202);
    const { index } = await listReferrers(subject.manifestDigest);
    assert.deepEqual(
      index.manifests,
      expected.filter((d) => d.digest !== sbomDigest),
    );
    const filtered = await listReferrers(subject.manifestDigest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.deepEqual(filtered.index.manifests, []);
  });
});
