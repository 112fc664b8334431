/**
 * The one table of registry error codes. Every failure a client can see is a RegistryError
 * thrown somewhere below the HTTP layer and written by the single error writer
 * (src/registry/error-writer.ts). A 4xx answer under /v2 only ever carries one of the spec's
 * fourteen codes (the spec requires it); where the spec asks for another status (413, 416) the thrower
 * overrides the status, not the code.
 */
export const ERROR_TABLE = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Outside /v2 only (the management API, /api/v1, which the spec does not cover): distribution's
  // code for a page size or count that is not a number in range. /v2 keeps UNSUPPORTED for it.
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  // The spec allows only the codes above on a 4xx answer; these are for 5xx answers only.
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  /** 507 Insufficient Storage: the disk (or quota) under storage.filesystem.rootDirectory has no room left. */
  STORAGE_FULL: { status: 507, message: 'storage is full' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** The 4xx codes that are not the spec's: answered only outside /v2 (test/unit/errors.test.ts holds the table to it). */
export const NON_SPEC_CLIENT_CODES: readonly ErrorCode[] = ['PAGINATION_NUMBER_INVALID'];

export interface RegistryErrorOptions {
  /** Overrides the table's status, where the spec asks for another one (413, 416, ...). */
  status?: number;
  /** Extra response headers that belong with this error (Range on a 416, for instance). */
  headers?: Record<string, string>;
  /** Further errors of the same answer (one MANIFEST_BLOB_UNKNOWN per missing blob, say). */
  additional?: RegistryError[];
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;
  readonly additional: RegistryError[];

  constructor(code: ErrorCode, message?: string, detail?: unknown, options: RegistryErrorOptions = {}) {
    super(message ?? ERROR_TABLE[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = options.status ?? ERROR_TABLE[code].status;
    this.detail = detail;
    this.headers = options.headers ?? {};
    this.additional = options.additional ?? [];
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
