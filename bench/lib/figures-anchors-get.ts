import { OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import type { GetFixtures } from './api-loading.js';
import { ratioCheck, type AnchorCheck } from './anchor-check.js';
import type { AnchorName, Contender } from './contenders.js';
import { figureOf, type Figure, type Samples } from './figure.js';
import { headLoad, loadFigureOf, wrkLoad, type LoadSpec } from './load-figure.js';
import type { Column, RatioColumn } from './report.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import type { WrkOptions } from './wrk.js';

/** The contenders of the GET figures against the anchors. */
export type GetAnchorName = Exclude<AnchorName, 'distribution'>;

export const GET_ANCHOR_COLUMNS: Array<Column<GetAnchorName>> = [
  { name: 'porthole', label: 'porthole' },
  { name: 'porthole-default', label: 'porthole, default configuration' },
  { name: 'fastify', label: 'Fastify ceiling' },
  { name: 'nginx-1', label: 'nginx, 1 worker' },
  { name: 'nginx-auto', label: 'nginx, worker per core' },
];

const label = (name: GetAnchorName): string => GET_ANCHOR_COLUMNS.find((column) => column.name === name)?.label ?? name;

export const GET_ANCHOR_RATIOS: Array<RatioColumn<GetAnchorName>> = [
  { label: 'porthole / Fastify', of: 'porthole', over: 'fastify' },
  { label: 'porthole default / Fastify', of: 'porthole-default', over: 'fastify' },
  { label: 'porthole / nginx 1 worker', of: 'porthole', over: 'nginx-1' },
  { label: 'porthole / nginx per core', of: 'porthole', over: 'nginx-auto' },
];

/** A GET figure and the contenders it applies to (the Fastify ceiling answers manifests and HEAD only). */
interface AnchorSpec extends LoadSpec<GetAnchorName> {
  contenders: GetAnchorName[];
}

const SMALL: GetAnchorName[] = ['porthole', 'porthole-default', 'fastify', 'nginx-1', 'nginx-auto'];
const BLOBS: GetAnchorName[] = ['porthole', 'nginx-1', 'nginx-auto'];

/**
 * As the comparison's GET figures (figures-get.ts: the same tools, connections and paths), over
 * the anchors. `fixtures` are what each contender serves: porthole default its own content, every
 * other one porthole's (the Fastify ceiling its answers, nginx its files).
 */
function anchorSpecs(fixtures: { porthole: GetFixtures; 'porthole-default': GetFixtures }, largeBlobBytes: number): AnchorSpec[] {
  const of = (contender: Contender<GetAnchorName>): GetFixtures => (contender.name === 'porthole-default' ? fixtures['porthole-default'] : fixtures.porthole);
  const manifest: WrkOptions = { headers: { accept: OCI_MANIFEST } };
  return [
    {
      name: 'GET manifest by tag (wrk -t2 -c32)',
      unit: 'req/s',
      digits: 0,
      contenders: SMALL,
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/manifests/${of(c).tag}`, { ...manifest, seconds }, 'req/s'),
    },
    {
      name: 'GET manifest by digest (wrk -t2 -c32)',
      unit: 'req/s',
      digits: 0,
      contenders: SMALL,
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/manifests/${of(c).manifestDigest}`, { ...manifest, seconds }, 'req/s'),
    },
    {
      name: 'HEAD blob (ab -k -i -c32)',
      unit: 'req/s',
      digits: 0,
      contenders: SMALL,
      run: (c, seconds) => headLoad(c, `/v2/${of(c).repo}/blobs/${of(c).layerDigest}`, seconds),
    },
    {
      name: 'GET 1 MiB blob (wrk -t2 -c32)',
      unit: 'MiB/s',
      digits: 0,
      contenders: BLOBS,
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/blobs/${of(c).mebibyteBlobDigest}`, { seconds }, 'MiB/s'),
    },
    {
      name: `GET ${largeBlobBytes / MEBIBYTE} MiB blob (wrk -t2 -c4)`,
      unit: 'MiB/s',
      digits: 0,
      contenders: BLOBS,
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/blobs/${of(c).largeBlobDigest}`, { connections: 4, seconds }, 'MiB/s'),
    },
  ];
}

/** The figure with an empty column for every contender it does not apply to ("—" in the table). */
function widened(figure: Figure<GetAnchorName>): Figure<GetAnchorName> {
  const samples = Object.fromEntries(GET_ANCHOR_COLUMNS.map(({ name }) => [name, figure.samples[name] ?? []])) as Samples<GetAnchorName>;
  const wide = figureOf(figure.name, figure.unit, figure.digits, samples);
  if (figure.detail !== undefined) wide.detail = figure.detail;
  return wide;
}

export interface GetAnchorRun {
  figures: Array<Figure<GetAnchorName>>;
  checks: AnchorCheck[];
}

/** Each GET figure over the contenders it applies to, taken in turn; and the rows on them. */
export async function getAnchorFigures(
  contenders: Record<GetAnchorName, Contender<GetAnchorName>>,
  fixtures: { porthole: GetFixtures; 'porthole-default': GetFixtures },
  settings: BenchSettings,
): Promise<GetAnchorRun> {
  const figures: Array<Figure<GetAnchorName>> = [];
  for (const spec of anchorSpecs(fixtures, settings.largeBlobBytes)) {
    console.error(`bench: anchors: ${spec.name}`);
    const taking = spec.contenders.map((name) => contenders[name]);
    const figure = await loadFigureOf(spec, taking, settings);
    figure.detail = `${figure.detail ?? ''} (${spec.contenders.map(label).join(' / ')})`;
    figures.push(widened(figure));
  }
  const [byTag, byDigest, head, mebibyte, large] = figures as [Figure<GetAnchorName>, Figure<GetAnchorName>, Figure<GetAnchorName>, Figure<GetAnchorName>, Figure<GetAnchorName>];
  const column = (name: GetAnchorName): { name: GetAnchorName; label: string } => ({ name, label: label(name) });
  const checks = [
    ratioCheck('GET manifest by tag, default configuration (access lines at info, to a file) / Fastify ceiling', byTag, column('porthole-default'), column('fastify'), 'at-least', 0.5),
    ratioCheck('GET manifest by digest, porthole / Fastify ceiling', byDigest, column('porthole'), column('fastify'), 'at-least', 0.6),
    ratioCheck('HEAD blob, porthole / Fastify ceiling', head, column('porthole'), column('fastify'), 'at-least', 0.6),
    // Named after their figures: in a quick run the large blob is 1 MiB too, and only the connections tell the rows apart.
    ratioCheck(`${mebibyte.name}, porthole / nginx (worker_processes 1)`, mebibyte, column('porthole'), column('nginx-1'), 'at-least', 0.8),
    ratioCheck(`${large.name}, porthole / nginx (worker_processes 1)`, large, column('porthole'), column('nginx-1'), 'at-least', 0.95),
  ];
  return { figures, checks };
}
