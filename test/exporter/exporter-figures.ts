import assert from 'node:assert/strict';
import type { ApiExporterProcess } from '../helpers/api-exporter-process.js';
import type { Exposition } from '../helpers/prometheus-text.js';
import type { ExpectedFigures } from './registry-content.js';

/** The label of the repositories beyond --max-repositories, summed. */
export const OTHER = '_other';

/** What porthole-exporter's API mode exports of a registry's content, in the shape of ExpectedFigures. */
export function exportedFigures(exposition: Exposition): ExpectedFigures {
  const byType = exposition.byLabel('oci_registry_manifests', 'media_type');
  return {
    repositories: exposition.value('oci_registry_repositories') ?? NaN,
    tags: exposition.value('oci_registry_tags') ?? NaN,
    repositoryTags: exposition.byLabel('oci_registry_repository_tags', 'repository'),
    repositorySize: exposition.byLabel('oci_registry_repository_size_bytes', 'repository'),
    manifests: { image: byType.image ?? NaN, index: byType.index ?? NaN, artifact: byType.artifact ?? NaN },
  };
}

/**
 * The figures with at most `max` repositories labelled: the largest by size keep their label,
 * the others are summed under `_other` (sizes and tags alike). Sizes must be distinct, or which
 * repositories are "largest" is not decided.
 */
export function withMaxRepositories(figures: ExpectedFigures, max: number): ExpectedFigures {
  const sizes = Object.values(figures.repositorySize);
  assert.equal(new Set(sizes).size, sizes.length, `the fixture's repository sizes must be distinct: ${JSON.stringify(figures.repositorySize)}`);
  const ranked = Object.keys(figures.repositorySize).sort((a, b) => (figures.repositorySize[b] as number) - (figures.repositorySize[a] as number));
  if (ranked.length <= max) return figures;
  const kept = ranked.slice(0, max);
  const rest = ranked.slice(max);
  const pick = (values: Record<string, number>): Record<string, number> => ({
    ...Object.fromEntries(kept.map((name) => [name, values[name] as number])),
    [OTHER]: rest.reduce((sum, name) => sum + (values[name] as number), 0),
  });
  return { ...figures, repositoryTags: pick(figures.repositoryTags), repositorySize: pick(figures.repositorySize) };
}

/** Sorted keys, so that deepEqual's diff reads the same whatever order the exposition had. */
function normalised(figures: ExpectedFigures): ExpectedFigures {
  const sorted = (values: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
  return { ...figures, repositoryTags: sorted(figures.repositoryTags), repositorySize: sorted(figures.repositorySize) };
}

/**
 * Waits (bounded) for a successful collection whose figures equal `expected`, then asserts them,
 * so that a mismatch fails with a diff of the last scrape rather than a timeout alone.
 */
export async function assertExportedFigures(exporter: ApiExporterProcess, expected: ExpectedFigures, timeoutMs = 20_000): Promise<Exposition> {
  const want = JSON.stringify(normalised(expected));
  let last: Exposition | undefined;
  try {
    last = await exporter.scrapeUntil(
      'the exported figures to equal the expected ones',
      (exposition) => {
        last = exposition;
        return exposition.value('oci_registry_up') === 1 && JSON.stringify(normalised(exportedFigures(exposition))) === want;
      },
      timeoutMs,
    );
  } catch (err) {
    if (last === undefined) throw err;
    assert.equal(last.value('oci_registry_up'), 1, `oci_registry_up; exporter output:\n${exporter.output().slice(-3000)}`);
    assert.deepEqual(normalised(exportedFigures(last)), normalised(expected));
    throw err;
  }
  assert.deepEqual(normalised(exportedFigures(last)), normalised(expected));
  return last;
}
