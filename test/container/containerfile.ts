import { readFile } from 'node:fs/promises';

/** What the tests need to know of the Containerfile: read from it, so that it cannot drift from them. */
export interface ContainerfileFacts {
  /** The default of each ARG declared before the first FROM. */
  globalArgs: Record<string, string>;
  /** Each stage's base image as written, ${ARG} references left in. */
  bases: string[];
  exposedPorts: number[];
  /** USER of the last stage, as written (uid:gid). */
  user: string;
  volumes: string[];
}

/** The Containerfile's instructions, one per element, continuation lines joined and comments dropped. */
function instructions(text: string): string[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

export async function readContainerfile(path: string): Promise<ContainerfileFacts> {
  const facts: ContainerfileFacts = { globalArgs: {}, bases: [], exposedPorts: [], user: '', volumes: [] };
  for (const line of instructions(await readFile(path, 'utf8'))) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const argument = rest.join(' ');
    switch (keyword.toUpperCase()) {
      case 'ARG':
        if (facts.bases.length === 0) {
          const [name = '', value = ''] = argument.split('=');
          facts.globalArgs[name] = value;
        }
        break;
      case 'FROM':
        facts.bases.push(rest[0] ?? '');
        break;
      case 'EXPOSE':
        facts.exposedPorts.push(...rest.map((port) => Number.parseInt(port, 10)));
        break;
      case 'USER':
        facts.user = argument;
        break;
      case 'VOLUME':
        facts.volumes.push(...(argument.startsWith('[') ? (JSON.parse(argument) as string[]) : rest));
        break;
    }
  }
  return facts;
}

/** A base image name with its ${ARG} references filled in. */
export function withArgs(image: string, args: Record<string, string>): string {
  return image.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = args[name];
    if (value === undefined) throw new Error(`${image}: no value for \${${name}}`);
    return value;
  });
}
