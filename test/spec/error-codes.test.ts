import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertError } from '../helpers/assert-registry.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { digestOf, makeImage, OCI_MANIFEST, putManifest, startUpload, withQuery } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';

/**
 * Spec "Error Codes": every code a client can meet without authentication, each produced once by
 * the simplest request that should cause it, with the status the spec's endpoint table gives.
 *
 * Not here: UNAUTHORIZED (401) and DENIED (403) need authentication and authorisation, and
 * TOOMANYREQUESTS (429) needs rate limiting; porthole has neither yet. Add them with those features.
 */
const porthole = sharedPorthole();
const withoutDeletion = sharedPorthole('storage:\n  delete:\n    enabled: false\n');
const NAME = 'spec/errors';
const absentDigest = digestOf(randomBytes(16));

interface CodeCase {
  code: string;
  status: number;
  cause: string;
  send: () => Promise<RawResponse>;
}

const cases: CodeCase[] = [
  {
    code: 'BLOB_UNKNOWN',
    status: 404,
    cause: 'GET of a blob the repository does not have',
    send: async () => {
      await makeImage(porthole().url, NAME);
      return raw(porthole().url, { path: `/v2/${NAME}/blobs/${absentDigest}` });
    },
  },
  {
    code: 'BLOB_UPLOAD_INVALID',
    status: 416,
    cause: 'a chunk that does not start where the upload ends',
    send: async () => {
      const location = await startUpload(porthole().url, NAME);
      return raw(porthole().url, { method: 'PATCH', path: location, headers: { 'content-range': '5-9', 'content-length': 5 }, body: '56789' });
    },
  },
  {
    code: 'BLOB_UPLOAD_UNKNOWN',
    status: 404,
    cause: 'status of an upload session that never existed',
    send: () => raw(porthole().url, { path: `/v2/${NAME}/blobs/uploads/0b5e0f36-3e5c-4b8e-9d3c-1a2b3c4d5e6f` }),
  },
  {
    code: 'DIGEST_INVALID',
    status: 400,
    cause: 'closing an upload with the digest of other content',
    send: async () => {
      const location = await startUpload(porthole().url, NAME);
      return raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${absentDigest}`), headers: { 'content-length': 5 }, body: 'hello' });
    },
  },
  {
    code: 'MANIFEST_BLOB_UNKNOWN',
    status: 400,
    cause: 'a manifest whose config is not in the repository',
    send: () =>
      putManifest(
        porthole().url,
        NAME,
        'dangling',
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: absentDigest, size: 16 },
          layers: [],
        }),
        OCI_MANIFEST,
      ),
  },
  {
    code: 'MANIFEST_INVALID',
    status: 400,
    cause: 'a manifest body that is not JSON',
    send: () => putManifest(porthole().url, NAME, 'broken', 'not json', OCI_MANIFEST),
  },
  {
    code: 'MANIFEST_UNKNOWN',
    status: 404,
    cause: 'a tag that does not exist in an existing repository',
    send: async () => {
      await makeImage(porthole().url, NAME);
      return raw(porthole().url, { path: `/v2/${NAME}/manifests/no-such-tag` });
    },
  },
  {
    code: 'NAME_INVALID',
    status: 400,
    cause: 'a repository name with uppercase letters',
    send: () => raw(porthole().url, { path: '/v2/Spec/Errors/tags/list' }),
  },
  {
    code: 'NAME_UNKNOWN',
    status: 404,
    cause: 'the tags of a repository that does not exist',
    send: () => raw(porthole().url, { path: '/v2/spec/errors-nowhere/tags/list' }),
  },
  {
    code: 'SIZE_INVALID',
    status: 400,
    cause: 'a chunk whose Content-Length disagrees with its Content-Range',
    send: async () => {
      const location = await startUpload(porthole().url, NAME);
      return raw(porthole().url, { method: 'PATCH', path: location, headers: { 'content-range': '0-9', 'content-length': 5 }, body: '01234' });
    },
  },
  {
    code: 'UNSUPPORTED',
    status: 405,
    cause: 'DELETE of a manifest when deletion is disabled',
    send: async () => {
      const image = await makeImage(withoutDeletion().url, NAME);
      return raw(withoutDeletion().url, { method: 'DELETE', path: `/v2/${NAME}/manifests/${image.manifestDigest}` });
    },
  },
];

describe('OCI error codes reachable without authentication', () => {
  for (const { code, status, cause, send } of cases) {
    it(`${code} (${status}): ${cause}`, async () => {
      const response = await send();
      assertError(response, status, code);
      const body = response.json() as { errors: Array<{ code: string; message: unknown }> };
      assert.equal(typeof body.errors[0]?.message, 'string');
    });
  }

  it('covers every code of the spec table except those that need auth or rate limiting', () => {
    const needAuthOrLimits = ['UNAUTHORIZED', 'DENIED', 'TOOMANYREQUESTS'];
    const specCodes = [
      'BLOB_UNKNOWN',
      'BLOB_UPLOAD_INVALID',
      'BLOB_UPLOAD_UNKNOWN',
      'DIGEST_INVALID',
      'MANIFEST_BLOB_UNKNOWN',
      'MANIFEST_INVALID',
      'MANIFEST_UNKNOWN',
      'NAME_INVALID',
      'NAME_UNKNOWN',
      'SIZE_INVALID',
      ...needAuthOrLimits,
      'UNSUPPORTED',
    ];
    assert.deepEqual(
      cases.map((c) => c.code),
      specCodes.filter((code) => !needAuthOrLimits.includes(code)),
    );
  });
});
