import { randomBytes } from 'node:crypto';
import { OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import { loadGetFixtures, type GetFixtures } from './api-loading.js';
import { bothOf, type Contender, type ContenderName, type Contenders } from './contenders.js';
import { figureOf, type Figure } from './figure.js';
import { headLoad, loadFigure, wrkLoad, type LoadSpec } from './load-figure.js';
import { peakResidentBytes, resetPeakResident } from './process-memory.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import type { WrkOptions } from './wrk.js';

/** Resident sizes are reported in MB (10^6 bytes), the unit of the idle target. */
export const MB = 1e6;

function getSpecs(fixtures: Record<ContenderName, GetFixtures>, largeBlobBytes: number): LoadSpec[] {
  const of = (contender: Contender): GetFixtures => fixtures[contender.name];
  // distribution 2.8 answers 404 to a GET of an OCI manifest whose Accept does not name the type.
  const manifest: WrkOptions = { headers: { accept: OCI_MANIFEST } };
  return [
    {
      name: 'GET manifest by tag (wrk -t2 -c32)',
      unit: 'req/s',
      digits: 0,
      target: { kind: 'ratio-at-least', bound: 2.0 },
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/manifests/${of(c).tag}`, { ...manifest, seconds }, 'req/s'),
    },
    {
      name: 'GET manifest by digest (wrk -t2 -c32)',
      unit: 'req/s',
      digits: 0,
      target: { kind: 'ratio-at-least', bound: 2.0 },
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/manifests/${of(c).manifestDigest}`, { ...manifest, seconds }, 'req/s'),
    },
    {
      name: 'HEAD blob (ab -k -i -c32)',
      unit: 'req/s',
      digits: 0,
      target: { kind: 'ratio-at-least', bound: 2.0 },
      run: (c, seconds) => headLoad(c, `/v2/${of(c).repo}/blobs/${of(c).layerDigest}`, seconds),
    },
    {
      name: 'GET 1 MiB blob (wrk -t2 -c32)',
      unit: 'MiB/s',
      digits: 0,
      target: { kind: 'ratio-at-least', bound: 1.2 },
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/blobs/${of(c).mebibyteBlobDigest}`, { seconds }, 'MiB/s'),
    },
    {
      name: `GET ${largeBlobBytes / MEBIBYTE} MiB blob (wrk -t2 -c4)`,
      unit: 'MiB/s',
      digits: 0,
      target: { kind: 'ratio-at-least', bound: 1.0 },
      run: (c, seconds) => wrkLoad(c, `/v2/${of(c).repo}/blobs/${of(c).largeBlobDigest}`, { connections: 4, seconds }, 'MiB/s'),
    },
  ];
}

/**
 * The GET figures, and each server's peak RSS under them: VmHWM is restarted after the content is
 * loaded, so the peak is the GET load's own.
 */
export async function getFigures(contenders: Contenders, settings: BenchSettings): Promise<Figure[]> {
  const blobs = { mebibyte: randomBytes(MEBIBYTE), large: randomBytes(settings.largeBlobBytes) };
  const fixtures = {
    porthole: await loadGetFixtures(contenders.porthole.url, blobs),
    distribution: await loadGetFixtures(contenders.distribution.url, blobs),
  };
  for (const contender of bothOf(contenders)) resetPeakResident(contender.pid);
  const figures: Figure[] = [];
  for (const spec of getSpecs(fixtures, settings.largeBlobBytes)) {
    console.error(`bench: ${spec.name}`);
    figures.push(await loadFigure(spec, contenders, settings));
  }
  const peak = { porthole: [peakResidentBytes(contenders.porthole.pid) / MB], distribution: [peakResidentBytes(contenders.distribution.pid) / MB] };
  figures.push(figureOf('peak RSS under the GET load (VmHWM)', 'MB', 0, peak));
  return figures;
}
