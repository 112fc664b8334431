import { readFile } from 'node:fs/promises';

/**
 * What the tests need to know of the Containerfile, read from it so that it cannot drift from them:
 * the image test builds and runs it (test/container), the deploy checks hold the manifests to it
 * (test/deploy). Only the runtime stage, the last FROM's, makes the image: what the image declares
 * is taken from it alone, so that an instruction of the build stage never passes for the image's.
 */
export interface ContainerfileFacts {
  /** The default of each ARG declared before the first FROM (the only ARGs a FROM line can use). */
  globalArgs: Record<string, string>;
  /** Each stage's base image as written, ${ARG} references left in. */
  bases: string[];
  /** The final stage's EXPOSE ports, protocols dropped. */
  exposedPorts: number[];
  /** The final stage's USER, as written (uid:gid); '' without one. */
  user: string;
  /** The final stage's VOLUMEs. */
  volumes: string[];
  /** The final stage's ENV, as written: `$VAR` references are not expanded. */
  env: Record<string, string>;
  /** The final stage's COPYs from the build context (not --from another stage). */
  contextCopies: Array<{ sources: string[]; destination: string }>;
  /** The final stage's HEALTHCHECK command, or undefined with none (or NONE). */
  healthcheck: string[] | undefined;
  /** The final stage's CMD; [] without one. */
  cmd: string[];
}

/** The Containerfile's instructions, one per element, comments dropped and then continuation lines joined, as the builder does. */
function instructions(text: string): string[] {
  const joined = text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** An argument in the exec form (a JSON array) or the shell form, split into words. */
function jsonOrWords(argument: string): string[] {
  return argument.startsWith('[') ? (JSON.parse(argument) as string[]) : argument.split(/\s+/).filter((word) => word !== '');
}

/** The words of an argument after its leading `--name=value` options, and those options by name. */
function withoutOptions(argument: string): { options: Record<string, string>; rest: string } {
  const options: Record<string, string> = {};
  let rest = argument;
  let match: RegExpExecArray | null;
  while ((match = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) !== null) {
    options[match[1] as string] = match[2] ?? '';
    rest = rest.slice(match[0].length);
  }
  return { options, rest };
}

/** `NAME=value` pairs (values maybe quoted), or the older `ENV NAME value` form. */
function assignments(argument: string): Record<string, string> {
  const pairs = [...argument.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)];
  if (pairs.length === 0) {
    const [name = '', ...value] = argument.split(/\s+/);
    return { [name]: value.join(' ') };
  }
  return Object.fromEntries(pairs.map((pair) => [pair[1] as string, (pair[2] as string).replace(/^"|"$/g, '')]));
}

/** What one stage declares. */
type StageFacts = Omit<ContainerfileFacts, 'globalArgs' | 'bases'>;

function emptyStage(): StageFacts {
  return { exposedPorts: [], user: '', volumes: [], env: {}, contextCopies: [], healthcheck: undefined, cmd: [] };
}

/** The facts of a Containerfile's text. */
export function parseContainerfile(text: string): ContainerfileFacts {
  const globalArgs: Record<string, string> = {};
  const bases: string[] = [];
  // Started again at each FROM: what an earlier stage declares is not the image's.
  let stage = emptyStage();
  for (const line of instructions(text)) {
    const keyword = (/^\S+/.exec(line)?.[0] ?? '').toUpperCase();
    const argument = line.slice(keyword.length).trim();
    switch (keyword) {
      case 'ARG':
        // An ARG inside a stage only brings a global one into scope, or declares the stage's own.
        if (bases.length === 0) Object.assign(globalArgs, assignments(argument.includes('=') ? argument : `${argument}=`));
        break;
      case 'FROM':
        bases.push(withoutOptions(argument).rest.split(/\s+/)[0] ?? '');
        stage = emptyStage();
        break;
      case 'EXPOSE':
        stage.exposedPorts.push(...argument.split(/\s+/).map((port) => Number(port.split('/')[0])));
        break;
      case 'USER':
        stage.user = argument;
        break;
      case 'VOLUME':
        stage.volumes.push(...jsonOrWords(argument));
        break;
      case 'ENV':
        Object.assign(stage.env, assignments(argument));
        break;
      case 'COPY': {
        const { options, rest } = withoutOptions(argument);
        const paths = jsonOrWords(rest);
        if (options.from === undefined) stage.contextCopies.push({ sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' });
        break;
      }
      case 'HEALTHCHECK': {
        const { rest } = withoutOptions(argument);
        stage.healthcheck = /^NONE$/i.test(rest) ? undefined : jsonOrWords(rest.replace(/^CMD\s+/i, ''));
        break;
      }
      case 'CMD':
        stage.cmd = jsonOrWords(argument);
        break;
    }
  }
  return { globalArgs, bases, ...stage };
}

export async function readContainerfile(path: string): Promise<ContainerfileFacts> {
  return parseContainerfile(await readFile(path, 'utf8'));
}

/** A USER of numbers, `uid` or `uid:gid` (the group is then the uid), or undefined for a name. */
export function numericUser(user: string): { uid: number; gid: number } | undefined {
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  return match === null ? undefined : { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) };
}

/** A base image name with its ${ARG} references filled in. */
export function withArgs(image: string, args: Record<string, string>): string {
  return image.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = args[name];
    if (value === undefined) throw new Error(`${image}: no value for \${${name}}`);
    return value;
  });
}
