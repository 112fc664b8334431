import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IMAGE_CONFIG_FILE, shown } from './deploy-files.js';
import { IMAGE, IMAGE_CONFIG, IMAGE_CONFIG_PATH } from './image-facts.js';
import { effectiveConfig, metricsPort } from './porthole-configuration.js';

/**
 * deploy/: the compose project and the Kubernetes manifests. No compose engine and no cluster run
 * here, so they are checked for structure: every file parses, every path they name exists, and
 * what they say of porthole agrees with the Containerfile (ports, user, volume, configuration
 * file) and with porthole itself (every PORTHOLE_* variable is a configuration key, and the
 * configuration the file and the variables make passes porthole's validation). Only files are
 * read. The checks are in four files: the image (image.test.ts), every file of deploy/
 * (file-by-file.test.ts), the Kustomize layouts (kubernetes.test.ts) and the compose project
 * (compose.test.ts).
 */

describe('the image that deploy/ runs', () => {
  it('is what the Containerfile says, and its own configuration is the one it copies', () => {
    assert.ok(IMAGE.exposedPorts.length > 0 && IMAGE.exposedPorts.every((port) => Number.isInteger(port)), `EXPOSE: ${IMAGE.exposedPorts.join(' ')}`);
    assert.equal(IMAGE.volumes.length, 1, 'one VOLUME');
    assert.ok(IMAGE_CONFIG_PATH.startsWith('/'), 'ENV PORTHOLE_CONFIG names the configuration file');
    assert.ok(
      IMAGE.contextCopies.some((copy) => copy.sources.includes('deploy/container/config.yaml') && copy.destination === IMAGE_CONFIG_PATH),
      `the Containerfile copies deploy/container/config.yaml to PORTHOLE_CONFIG (${IMAGE_CONFIG_PATH})`,
    );
    assert.deepEqual(IMAGE.healthcheck, ['porthole', 'health']);
    assert.deepEqual(IMAGE.cmd, ['porthole', 'serve']);
    const config = effectiveConfig(IMAGE_CONFIG, {}, shown(IMAGE_CONFIG_FILE));
    assert.ok(IMAGE.exposedPorts.includes(config.http.port), `http.port ${config.http.port} is exposed`);
    const metrics = metricsPort(config);
    assert.ok(metrics !== undefined && IMAGE.exposedPorts.includes(metrics), `the metrics port ${String(metrics)} is exposed`);
    assert.equal(config.storage.filesystem.rootDirectory, IMAGE.volumes[0], 'the storage root is the volume');
  });
});
