import { join } from 'node:path';
import { buildOciLayout, type LayoutDescription, type LayoutOptions } from '../fixtures/oci-layout.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { ContainersSandbox } from './containers-sandbox.js';

/** What every end-to-end suite works with: one porthole, one client sandbox, two test images. */
export interface E2eSuite {
  porthole: PortholeProcess;
  sandbox: ContainersSandbox;
  work: string;
  /** A single-platform image tagged v1. */
  single: LayoutDescription;
  /** A linux/amd64 + linux/arm64 image index tagged multi. */
  multi: LayoutDescription;
}

/** Builds the suite's images, an isolated sandbox for the container tools, and starts porthole. */
export async function startE2eSuite(name: string, singleImage: Omit<LayoutOptions, 'dir' | 'tag' | 'platforms'>): Promise<E2eSuite> {
  const work = await tempDir(name);
  const single = await buildOciLayout({ dir: join(work, 'single'), tag: 'v1', ...singleImage });
  const multi = await buildOciLayout({
    dir: join(work, 'multi'),
    tag: 'multi',
    seed: `${name}-multi`,
    fileBytes: 32 * 1024,
    platforms: [
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ],
  });
  const sandbox = await ContainersSandbox.create();
  const porthole = await startPorthole();
  return { porthole, sandbox, work, single, multi };
}

/** Stops what startE2eSuite started; safe after a start that failed half-way. */
export async function stopE2eSuite(suite: Partial<E2eSuite>): Promise<void> {
  await suite.porthole?.stop();
  await suite.sandbox?.dispose();
  await cleanup(...[suite.work, suite.porthole?.root].filter((dir): dir is string => dir !== undefined));
}
