import assert from 'node:assert/strict';
import { errorCodes, type RawResponse } from './raw-http.js';

/** A response header as one string (undefined when absent), for exact comparisons. */
export function header(response: RawResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Asserts an OCI error answer: the exact status, the exact list of error codes, and the JSON
 * content type. A HEAD answer has no body: check it with assertStatus.
 */
export function assertError(response: RawResponse, status: number, ...codes: string[]): void {
  const shown = response.body.toString('utf8').slice(0, 300);
  assert.equal(response.status, status, `expected ${status} ${codes.join(',')}, got ${response.status}: ${shown}`);
  assert.deepEqual(errorCodes(response), codes, `error codes of: ${shown}`);
  assert.match(header(response, 'content-type') ?? '', /^application\/json\b/);
}

/** Asserts a success status, showing the body when it is not. */
export function assertStatus(response: RawResponse, status: number): void {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`);
}

export const UPLOAD_LOCATION = /^\/v2\/[a-z0-9/._-]+\/blobs\/uploads\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
