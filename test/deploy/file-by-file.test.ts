import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadCompose, mountedFiles } from './compose.js';
import { isPortholeImage } from './compose-project.js';
import { COMPOSE_FILE, DEPLOY_DIR, filesUnder, isYaml, shown, yamlDocuments } from './deploy-files.js';
import { isPortholeVariable, variablesSet } from './porthole-configuration.js';

/** Every file of deploy/, whichever tool reads it: it parses, and the PORTHOLE_* variables it sets are porthole's (see image.test.ts for the whole). */

describe('deploy/, file by file', () => {
  const yamlFiles = filesUnder(DEPLOY_DIR, isYaml);

  it('every YAML file parses, every document of it, and every JSON file', () => {
    assert.ok(yamlFiles.length > 10, `YAML files under deploy/: ${yamlFiles.length}`);
    for (const file of yamlFiles) assert.ok(yamlDocuments(file).length > 0, `${shown(file)} holds a document`);
    for (const file of filesUnder(DEPLOY_DIR, (path) => path.endsWith('.json'))) {
      assert.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')), `${shown(file)} is JSON`);
    }
  });

  it('every PORTHOLE_* variable set anywhere is one porthole reads', () => {
    const compose = loadCompose();
    let count = 0;
    for (const file of yamlFiles) {
      for (const document of yamlDocuments(file)) {
        const found: Array<{ name: string; path: string[] }> = [];
        variablesSet(document, [], found);
        for (const { name, path } of found.filter((entry) => entry.name.startsWith('PORTHOLE_'))) {
          count += 1;
          if (isPortholeVariable(name)) continue;
          // Another program's variable of the same prefix: Grafana's provisioning reads
          // PORTHOLE_PROMETHEUS_URL. Allowed where a file mounted into that service uses it.
          const service = file === COMPOSE_FILE && path[0] === 'services' ? path[1] : undefined;
          const spec = service === undefined ? undefined : compose.services[service];
          assert.ok(spec !== undefined && !isPortholeImage(spec), `${shown(file)} ${path.join('.')}: ${name} is not a porthole configuration variable`);
          const users = mountedFiles(spec).filter((mounted) => readFileSync(mounted, 'utf8').includes(`\${${name}}`));
          assert.ok(users.length > 0, `${shown(file)} ${path.join('.')}: ${name} is neither porthole's nor read by a file mounted into ${service}`);
        }
      }
    }
    assert.ok(count > 20, `PORTHOLE_* variables found: ${count}`);
  });
});
