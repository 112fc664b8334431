import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import type { PortholeConfig } from '../../src/config/schema.js';
import { environmentOf, loadCompose, mountsOf, type ComposeService } from './compose.js';
import { IMAGE, IMAGE_CONFIG, IMAGE_CONFIG_PATH } from './image-facts.js';
import { effectiveConfig } from './porthole-configuration.js';

/**
 * The compose project as porthole's checks see it: which services run porthole's image and which
 * of those are servers, which profile runs which, and each server's configuration. A service that
 * says nothing of its command or health check gets the image's, so those come from the
 * Containerfile.
 */

/** A service running porthole's image: built from the repository, or an image of that name. */
export function isPortholeImage(service: ComposeService): boolean {
  return service.build !== undefined || (service.image ?? '').includes('porthole');
}

/** What a service of porthole's image runs; without a command, the image's CMD. */
export function commandOfService(service: ComposeService): string[] {
  if (service.command === undefined) return IMAGE.cmd;
  return typeof service.command === 'string' ? service.command.split(/\s+/) : service.command;
}

/** A service's health check as compose runs it; one of porthole's image without its own has the image's HEALTHCHECK. */
export function healthTest(service: ComposeService): string[] | undefined {
  if (service.healthcheck?.disable === true) return undefined;
  const test = service.healthcheck?.test;
  if (test === undefined) return isPortholeImage(service) && IMAGE.healthcheck !== undefined ? ['CMD', ...IMAGE.healthcheck] : undefined;
  return typeof test === 'string' ? ['CMD-SHELL', test] : test;
}

/** The services, sorted by what they run and by profile; configOf validates a server's configuration when first asked, inside the test that asks. */
export function composeProject() {
  const compose = loadCompose();
  const services = compose.services;
  const names = Object.keys(services);
  const portholes = names.filter((name) => isPortholeImage(services[name] as ComposeService));
  const servers = portholes.filter((name) => commandOfService(services[name] as ComposeService).slice(0, 2).join(' ') === 'porthole serve');
  const profiles = [...new Set(names.flatMap((name) => services[name]?.profiles ?? []))].sort();
  const activeIn = (profile: string) => names.filter((name) => services[name]?.profiles === undefined || services[name]?.profiles?.includes(profile));
  const profilesOf = (name: string) => services[name]?.profiles ?? profiles;

  /** porthole's configuration in a server service: the image's file and the service's variables (first asked within a test). */
  const configs = new Map<string, PortholeConfig>();
  const configOf = (name: string): PortholeConfig => {
    let config = configs.get(name);
    if (config === undefined) {
      const service = services[name] as ComposeService;
      for (const mount of mountsOf(service)) {
        assert.ok(mount.target !== IMAGE_CONFIG_PATH && mount.target !== dirname(IMAGE_CONFIG_PATH), `${name}: configured by PORTHOLE_* variables only, no file mounted at ${mount.target}`);
      }
      config = effectiveConfig(IMAGE_CONFIG, environmentOf(service), `compose service ${name}`);
      configs.set(name, config);
    }
    return config;
  };
  return { compose, services, names, portholes, servers, profiles, activeIn, profilesOf, configOf };
}
