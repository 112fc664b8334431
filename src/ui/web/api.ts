/**
 * porthole's APIs as the dashboard reads them: the management API (/api/v1) and the registry
 * API (/v2), relative to the page (/ui/), so that a reverse proxy may put porthole under a path.
 * The browser sends the Basic login it was asked for on /ui/. With auth.token the APIs challenge
 * for a bearer token: the token flow is followed against porthole's own realm (same origin).
 */

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

/** An answer that was not a success: its status and the message of the OCI error body, if any. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const tokens = new Map<string, string>();

function parseChallenge(header: string): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const match of header.slice('Bearer '.length).matchAll(/(\w+)="([^"]*)"/g)) parameters[match[1] as string] = match[2] as string;
  return parameters;
}

/** A token for the challenge's scope from porthole's realm (only one of this origin: credentials never leave it). */
async function fetchToken(challenge: string): Promise<string | undefined> {
  const { realm, service, scope } = parseChallenge(challenge);
  if (realm === undefined) return undefined;
  const url = new URL(realm, location.href);
  if (url.origin !== location.origin) return undefined;
  if (service !== undefined) url.searchParams.set('service', service);
  if (scope !== undefined) url.searchParams.set('scope', scope);
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (token !== undefined) tokens.set(scope ?? '', token);
  return token;
}

function scopeOf(path: string): string {
  const match = /^\.\.\/v2\/(.+)\/(manifests|blobs|tags|referrers)\//.exec(path);
  return match === null ? '' : `repository:${match[1]}:pull`;
}

async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { errors?: Array<{ code?: string; message?: string }> };
    const first = body.errors?.[0];
    if (first !== undefined) message = `${response.status} ${first.code ?? ''}: ${first.message ?? ''}`;
  } catch {
    // Not JSON: the status says it.
  }
  return new ApiError(response.status, message);
}

/** GET (or HEAD) `path` relative to /ui/; throws ApiError unless 2xx. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const send = (token: string | undefined): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    return fetch(path, { ...init, headers });
  };
  let response = await send(tokens.get(scopeOf(path)));
  const challenge = response.headers.get('www-authenticate');
  if (response.status === 401 && challenge?.startsWith('Bearer ') === true) {
    const token = await fetchToken(challenge);
    if (token !== undefined) response = await send(token);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await (await request(path, init)).json()) as T;
}

/** The `last` of a Link header's next page, if there is one. */
export function nextLast(response: Response): string | undefined {
  const link = response.headers.get('link');
  const target = link === null ? undefined : /<([^>]*)>\s*;\s*rel="next"/.exec(link)?.[1];
  return target === undefined ? undefined : (new URL(target, location.href).searchParams.get('last') ?? undefined);
}

/** A repository name in a /v2 path: its slashes are path separators there. */
export function v2(name: string, rest: string): string {
  return `../v2/${name.split('/').map(encodeURIComponent).join('/')}/${rest}`;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { architecture?: string; os?: string; variant?: string; 'os.version'?: string };
}

export interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  manifest: Manifest;
  digest: string;
  mediaType: string;
  size: number;
}

export async function fetchManifest(name: string, reference: string): Promise<FetchedManifest> {
  const response = await request(v2(name, `manifests/${encodeURIComponent(reference)}`), { headers: { accept: MANIFEST_ACCEPT } });
  const text = await response.text();
  const manifest = JSON.parse(text) as Manifest;
  return {
    manifest,
    digest: response.headers.get('docker-content-digest') ?? '',
    mediaType: response.headers.get('content-type') ?? manifest.mediaType ?? '',
    size: new TextEncoder().encode(text).length,
  };
}

export function isIndex(fetched: FetchedManifest): boolean {
  return fetched.mediaType === MEDIA_TYPES.ociIndex || fetched.mediaType === MEDIA_TYPES.dockerList || fetched.manifest.manifests !== undefined;
}
