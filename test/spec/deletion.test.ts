import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertError, assertStatus } from '../helpers/assert-registry.js';
import { raw } from '../helpers/raw-http.js';
import { digestOf, makeImage, OCI_MANIFEST, putManifest } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';

/** Spec "Content Management": deleting tags, manifests and blobs, and deletion switched off. */
const porthole = sharedPorthole();
const withoutDeletion = sharedPorthole('storage:\n  delete:\n    enabled: false\n');

function del(url: string, path: string) {
  return raw(url, { method: 'DELETE', path });
}

async function tagsOf(url: string, name: string): Promise<string[]> {
  const response = await raw(url, { path: `/v2/${name}/tags/list` });
  assertStatus(response, 200);
  return (response.json() as { tags: string[] }).tags;
}

describe('deletion', () => {
  it('deletes a manifest by digest, and every tag that pointed at it', async () => {
    const { url } = porthole();
    const name = 'spec/delete/by-digest';
    const doomed = await makeImage(url, name);
    const kept = await makeImage(url, name, { tag: 'kept' });
    assertStatus(await putManifest(url, name, `${doomed.manifestDigest}?tag=one&tag=two`, doomed.manifest, OCI_MANIFEST), 201);

    assertStatus(await del(url, `/v2/${name}/manifests/${doomed.manifestDigest}`), 202);
    for (const reference of [doomed.manifestDigest, 'one', 'two']) {
      assertError(await raw(url, { path: `/v2/${name}/manifests/${reference}` }), 404, 'MANIFEST_UNKNOWN');
    }
    assert.deepEqual(await tagsOf(url, name), ['kept']);
    assertStatus(await raw(url, { path: `/v2/${name}/manifests/${kept.manifestDigest}` }), 200);
    assertError(await del(url, `/v2/${name}/manifests/${doomed.manifestDigest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('deletes only the tag when deleting by tag', async () => {
    const { url } = porthole();
    const name = 'spec/delete/by-tag';
    const image = await makeImage(url, name, { tag: 'x' });
    assertStatus(await putManifest(url, name, 'y', image.manifest, OCI_MANIFEST), 201);

    assertStatus(await del(url, `/v2/${name}/manifests/x`), 202);
    assertError(await raw(url, { path: `/v2/${name}/manifests/x` }), 404, 'MANIFEST_UNKNOWN');
    assertStatus(await raw(url, { path: `/v2/${name}/manifests/y` }), 200);
    assertStatus(await raw(url, { path: `/v2/${name}/manifests/${image.manifestDigest}` }), 200);
    assert.deepEqual(await tagsOf(url, name), ['y']);
    assertError(await del(url, `/v2/${name}/manifests/x`), 404, 'MANIFEST_UNKNOWN');
  });

  it('deletes a blob (202), which is then unknown (404 BLOB_UNKNOWN)', async () => {
    const { url } = porthole();
    const name = 'spec/delete/blob';
    const image = await makeImage(url, name);
    const path = `/v2/${name}/blobs/${image.layerDigest}`;
    assertStatus(await del(url, path), 202);
    assertError(await raw(url, { path }), 404, 'BLOB_UNKNOWN');
    const head = await raw(url, { method: 'HEAD', path });
    assertStatus(head, 404);
    assertError(await del(url, path), 404, 'BLOB_UNKNOWN');
  });

  it('answers deletions in an unknown repository with 404', async () => {
    const { url } = porthole();
    assertError(await del(url, `/v2/spec/delete/nowhere/manifests/${digestOf(randomBytes(4))}`), 404, 'NAME_UNKNOWN');
    assertError(await del(url, '/v2/spec/delete/nowhere/manifests/latest'), 404, 'NAME_UNKNOWN');
    assertError(await del(url, `/v2/spec/delete/nowhere/blobs/${digestOf(randomBytes(4))}`), 404, 'BLOB_UNKNOWN');
  });
});

describe('deletion disabled (storage.delete.enabled: false)', () => {
  it('answers every DELETE of content with 405 UNSUPPORTED and keeps the content', async () => {
    const { url } = withoutDeletion();
    const name = 'spec/delete/disabled';
    const image = await makeImage(url, name, { tag: 'stays' });
    const targets = [`/v2/${name}/manifests/${image.manifestDigest}`, `/v2/${name}/manifests/stays`, `/v2/${name}/blobs/${image.layerDigest}`];
    for (const path of targets) assertError(await del(url, path), 405, 'UNSUPPORTED');
    for (const path of targets) assertStatus(await raw(url, { path }), 200);
  });

  it('still lets a client cancel its own upload session', async () => {
    const { url } = withoutDeletion();
    const started = await raw(url, { method: 'POST', path: '/v2/spec/delete/disabled/blobs/uploads/' });
    assertStatus(started, 202);
    assertStatus(await del(url, String(started.headers.location)), 204);
  });
});
