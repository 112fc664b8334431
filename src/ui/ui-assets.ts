import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../config/config-error.js';

/** Where `npm run build` puts the dashboard's files (scripts/build-ui.mjs): beside this module, in web/. */
export const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));

/** The placeholder in index.html that becomes the assets' versioned path. */
const ASSETS_PLACEHOLDER = '%ASSETS%';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** One file as it is served: its bytes, gzipped once at start, and an ETag. */
export interface Asset {
  contentType: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

export interface UiAssets {
  /** The page (index.html), pointing at the versioned assets. */
  page: Asset;
  /** The content hash of every asset together: the path segment under /ui/assets/ that changes with any of them. */
  version: string;
  /** By path relative to web/ ("main.js", "vendor/uPlot.iife.min.js"). */
  files: Map<string, Asset>;
  /** Bytes of every file served (page included), and gzipped as sent to a browser that accepts gzip. */
  totalBytes: number;
  totalGzipBytes: number;
}

function asset(path: string, body: Buffer): Asset {
  const contentType = CONTENT_TYPES[extname(path)] as string;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { contentType, body, gzipped: gzipSync(body, { level: 9 }), etag };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && Object.hasOwn(CONTENT_TYPES, extname(entry.name)))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * Reads the built dashboard into memory (about 100 KB; nothing is read from disk per request) and
 * gzips each file once. Missing files mean porthole was not built with its dashboard: an error
 * naming the config key that asks for it, so that start-up stops rather than serve a broken page.
 */
export async function loadUiAssets(dir = WEB_DIR): Promise<UiAssets> {
  let paths: string[];
  try {
    paths = await listFiles(dir);
  } catch (err) {
    throw new ConfigError([`extensions.ui.enable: the dashboard's files are missing from ${dir} (${(err as Error).message}); build porthole with npm run build, or set extensions.ui.enable: false`]);
  }
  if (!paths.includes('index.html') || !paths.includes('main.js')) {
    throw new ConfigError([`extensions.ui.enable: the dashboard's files are missing from ${dir} (no index.html or main.js); build porthole with npm run build, or set extensions.ui.enable: false`]);
  }
  const files = new Map<string, Asset>();
  const hash = createHash('sha256');
  let template = '';
  for (const path of paths) {
    const body = await readFile(join(dir, path));
    if (path === 'index.html') {
      template = body.toString('utf8');
      continue;
    }
    hash.update(path).update('\0').update(body);
    files.set(path, asset(path, body));
  }
  const version = hash.digest('hex').slice(0, 16);
  const page = asset('index.html', Buffer.from(template.replaceAll(ASSETS_PLACEHOLDER, `assets/${version}`), 'utf8'));
  let totalBytes = page.body.length;
  let totalGzipBytes = page.gzipped.length;
  for (const file of files.values()) {
    totalBytes += file.body.length;
    totalGzipBytes += file.gzipped.length;
  }
  return { page, version, files, totalBytes, totalGzipBytes };
}
