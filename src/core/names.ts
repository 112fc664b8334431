import { RegistryError } from './errors.js';

/** Repository name grammar from the Distribution Spec ("Pulling manifests"). */
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_PATTERN = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Clients limit host + "/" + name to 255 characters; a name alone may therefore never exceed
 * that, and distribution rejects longer ones the same way.
 */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

export function assertValidName(name: string): void {
  if (isValidName(name)) return;
  const shown = name.length > 100 ? `${name.slice(0, 100)}...` : name;
  const reason = name.length > MAX_NAME_LENGTH ? `longer than ${MAX_NAME_LENGTH} characters` : 'does not match the repository name grammar';
  throw new RegistryError('NAME_INVALID', `invalid repository name "${shown}": ${reason}`, { name: shown });
}

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

export function assertValidTag(tag: string): void {
  if (isValidTag(tag)) return;
  const shown = tag.length > 140 ? `${tag.slice(0, 140)}...` : tag;
  throw new RegistryError('MANIFEST_INVALID', `invalid tag "${shown}": tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, { tag: shown });
}
