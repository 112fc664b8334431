import assert from 'node:assert/strict';
import { join } from 'node:path';
import { numericUser, readContainerfile } from '../helpers/containerfile.js';
import { IMAGE_CONFIG_FILE, REPO_ROOT, yamlFile } from './deploy-files.js';

/**
 * The image deploy/ runs, as the Containerfile makes it (its runtime stage): the manifests are
 * held to these facts rather than to numbers written again here, so that a change to the
 * Containerfile the manifests do not follow fails the checks.
 */

const facts = await readContainerfile(join(REPO_ROOT, 'Containerfile'));
const user = numericUser(facts.user);
// Kubernetes can check runAsNonRoot only of a numeric user; every check below needs the numbers.
assert.ok(user, `the Containerfile's USER "${facts.user}" is numeric (uid:gid), as runAsNonRoot needs`);

export const IMAGE = { ...facts, ...user };

/** The configuration file the image reads (PORTHOLE_CONFIG) and its content there. */
export const IMAGE_CONFIG_PATH = IMAGE.env.PORTHOLE_CONFIG ?? '';
export const IMAGE_CONFIG = yamlFile<unknown>(IMAGE_CONFIG_FILE);
