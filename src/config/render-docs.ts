import { pathToFileURL } from 'node:url';
import { variableKeys } from './environment.js';
import { configJsonSchema, type JsonSchemaNode } from './json-schema.js';

function bounds(node: JsonSchemaNode): string {
  const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
  if (node.minimum !== undefined && max !== undefined) return ` (${node.minimum}–${max})`;
  if (node.minimum !== undefined) return ` (≥ ${node.minimum})`;
  return max !== undefined ? ` (≤ ${max})` : '';
}

function typeOf(node: JsonSchemaNode): string {
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  if (node.format === 'duration') return 'duration';
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  const type = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
  return `${type}${bounds(node)}`;
}

/** The key, and under it the environment variable that sets it when it has one. */
function keyCell(path: string): string {
  const variable = variableByKey().get(path);
  return variable === undefined ? `\`${path}\`` : `\`${path}\`<br>\`${variable}\``;
}

let byKey: Map<string, string> | undefined;
function variableByKey(): Map<string, string> {
  byKey ??= new Map([...variableKeys().values()].map((entry) => [entry.key, entry.variable]));
  return byKey;
}

function rows(node: JsonSchemaNode, prefix: string): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object') {
      out.push(`| ${keyCell(path)} | ${child.properties ? 'section' : 'map'} | | ${child.description ?? ''} |`);
      out.push(...rows(child, path));
    } else if (child.type === 'array' && child.items?.type === 'object') {
      out.push(`| ${keyCell(path)} | list | | ${child.description ?? ''} Each entry: |`);
      out.push(...rows(child.items, `${path}[]`));
    } else {
      const fallback = child.default !== undefined ? `\`${JSON.stringify(child.default)}\`` : node.required?.includes(key) ? 'required' : 'none';
      out.push(`| ${keyCell(path)} | ${typeOf(child)} | ${fallback} | ${child.description ?? ''} |`);
    }
  }
  return out;
}

/** docs/config.md, rendered from the schema so the two can never disagree. */
export function renderConfigDocs(): string {
  const root = configJsonSchema();
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; a test fails when it is stale. -->',
    '',
    'porthole reads one YAML or JSON file (`porthole serve --config FILE`); keys are camelCase and',
    'every key is optional. Every key can also be set by the environment variable under it: `PORTHOLE_`',
    'and the key in upper snake case (a list or a map is set whole, as YAML or JSON; a list of strings',
    'also as `a,b,c`; `true`/`false` or `1`/`0`; `null` or nothing for null). Command-line flags',
    'override the environment, the environment overrides the file, and the file overrides the defaults',
    'below. Unknown keys are errors; an unknown `PORTHOLE_` variable is logged as a warning.',
    'Durations are a number and a unit: `500ms`, `30s`, `2m`, `24h`, `30d`.',
    'Check a file (with the environment over it) without starting the server with `porthole verify FILE`.',
    '',
    '| key | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows(root, ''),
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(renderConfigDocs());
}
