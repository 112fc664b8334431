import { descriptor, digestOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, putManifest } from '../helpers/registry-client.js';
import { expect, type BadInputCase, type Fixture } from './case.js';

/**
 * Manifest bodies that must be refused with MANIFEST_INVALID (or DIGEST_INVALID when the URL's
 * digest is not the body's). Each differs from a valid manifest of the fixture's blobs in one
 * way only, so the case shows which check refused it.
 */
type Json = Record<string, unknown>;

function validImage(fixture: Fixture): Json {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(OCI_CONFIG, fixture.image.config),
    layers: [descriptor(OCI_LAYER, fixture.image.layer)],
  };
}

function pushBody(body: (fixture: Fixture) => string | Buffer, contentType = OCI_MANIFEST, reference = 'broken'): BadInputCase['send'] {
  return (ctx) => putManifest(ctx.url, ctx.fixture.name, reference, body(ctx.fixture), contentType);
}

function pushVariant(change: (manifest: Json, fixture: Fixture) => void, contentType = OCI_MANIFEST): BadInputCase['send'] {
  return pushBody((fixture) => {
    const manifest = validImage(fixture);
    change(manifest, fixture);
    return JSON.stringify(manifest);
  }, contentType);
}

function layerWith(fixture: Fixture, field: string, value: unknown): Json {
  return { ...descriptor(OCI_LAYER, fixture.image.layer), [field]: value };
}

export const manifestCases: BadInputCase[] = [
  { title: 'a body that is not JSON', ...expect(400, 'MANIFEST_INVALID'), send: pushBody(() => '{"schemaVersion": 2,') },
  { title: 'an empty body', ...expect(400, 'MANIFEST_INVALID'), send: pushBody(() => '') },
  { title: 'a JSON array', ...expect(400, 'MANIFEST_INVALID'), send: pushBody((fixture) => JSON.stringify([validImage(fixture)])) },
  { title: 'a JSON string', ...expect(400, 'MANIFEST_INVALID'), send: pushBody(() => '"manifest"') },
  { title: 'schemaVersion 1', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => (m.schemaVersion = 1)) },
  { title: 'schemaVersion missing', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => delete m.schemaVersion) },
  { title: 'schemaVersion as a string', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => (m.schemaVersion = '2')) },
  { title: 'an image without config', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => delete m.config) },
  { title: 'layers that are not an array', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.layers = descriptor(OCI_LAYER, f.image.layer))) },
  { title: 'a layer with a malformed digest', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.layers = [layerWith(f, 'digest', 'sha256:1234')])) },
  { title: 'a layer with a negative size', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.layers = [layerWith(f, 'size', -1)])) },
  { title: 'a layer with a fractional size', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.layers = [layerWith(f, 'size', 2047.5)])) },
  { title: 'a layer with the size as a string', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.layers = [layerWith(f, 'size', '2048')])) },
  { title: 'a layer without mediaType', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.layers = [layerWith(f, 'mediaType', undefined)])) },
  { title: 'a config that is a string', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m, f) => (m.config = digestOf(f.image.config))) },
  { title: 'annotations that are not strings', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => (m.annotations = { 'org.example.count': 3 })) },
  { title: 'a malformed subject', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => (m.subject = { mediaType: OCI_MANIFEST, digest: 'nope', size: 1 })) },
  { title: 'an image manifest with a manifests list', ...expect(400, 'MANIFEST_INVALID'), send: pushVariant((m) => (m.manifests = [])) },
  {
    title: 'a mediaType field that contradicts the Content-Type',
    ...expect(400, 'MANIFEST_INVALID'),
    send: pushVariant(() => undefined, OCI_INDEX),
  },
  {
    title: 'a schema 1 media type',
    ...expect(400, 'MANIFEST_INVALID'),
    send: pushVariant((m) => (m.mediaType = 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 'application/json'),
  },
  {
    title: 'an index with a config',
    ...expect(400, 'MANIFEST_INVALID'),
    send: pushBody(
      (f) => JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [f.image.descriptor], config: descriptor(OCI_CONFIG, f.image.config) }),
      OCI_INDEX,
    ),
  },
  {
    title: 'an index whose manifests is not an array',
    ...expect(400, 'MANIFEST_INVALID'),
    send: pushBody((f) => JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: f.image.descriptor }), OCI_INDEX),
  },
  {
    title: 'a digest in the URL that is not the digest of the body',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) => putManifest(ctx.url, ctx.fixture.name, digestOf('another body'), ctx.fixture.image.manifest, OCI_MANIFEST),
  },
  {
    title: 'a sha512 digest in the URL that is not the digest of the body',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) => putManifest(ctx.url, ctx.fixture.name, digestOf('another body', 'sha512'), ctx.fixture.image.manifest, OCI_MANIFEST),
  },
];
