import type { RawResponse } from '../helpers/raw-http.js';
import type { Image } from '../helpers/registry-client.js';

/** Valid content pushed before the table runs, so that there is something to protect. */
export interface Fixture {
  /** The repository of the fixture image. */
  name: string;
  /** Tagged `v1` in `name`; its layer is 2048 random bytes. */
  image: Image;
}

export interface CaseContext {
  url: string;
  fixture: Fixture;
  /**
   * Starts an upload session (in the fixture repository unless named) and returns its location.
   * The table cancels every session opened this way before comparing the storage tree.
   */
  openSession(name?: string): Promise<string>;
}

/** One malformed request and the exact answer the spec (or porthole's documented choice) requires. */
export interface BadInputCase {
  title: string;
  status: number;
  /** The OCI error codes of the answer, in order. */
  codes: string[];
  /** Response headers that must be present with exactly these values. */
  headers?: Record<string, string>;
  send(ctx: CaseContext): Promise<RawResponse | undefined>;
}

/** Shorthand for a case that expects a single error code. */
export function expect(status: number, code: string, headers?: Record<string, string>): Pick<BadInputCase, 'status' | 'codes' | 'headers'> {
  return headers ? { status, codes: [code], headers } : { status, codes: [code] };
}
