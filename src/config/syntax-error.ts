/** Continuation lines of a problem: indented under it, whatever prefix the printer puts first. */
const EXCERPT_INDENT = '\n    ';

function excerptLines(lines: readonly string[]): string {
  let first = 0;
  let last = lines.length;
  while (first < last && lines[first]?.trim() === '') first++;
  while (last > first && lines[last - 1]?.trim() === '') last--;
  return lines
    .slice(first, last)
    .map((line) => `${EXCERPT_INDENT}${line}`)
    .join('');
}

/** JSON.parse names an offset only; turn it into a line, a column and the line with a caret. */
function locateJsonError(text: string, message: string): string {
  const offset = /at position (\d+)/.exec(message)?.[1];
  if (offset === undefined) return message;
  const before = text.slice(0, Number(offset)).split('\n');
  const line = before.length;
  const column = (before[before.length - 1] ?? '').length + 1;
  const source = text.split('\n')[line - 1] ?? '';
  return `${message.replace(/ in JSON at position \d+/, '')} at line ${line}, column ${column}:\n${source}\n${' '.repeat(column - 1)}^`;
}

/**
 * A configuration file that does not parse, as one problem: the parser's message and the lines it
 * points at. The yaml library puts that excerpt on the lines after its first; without them
 * "at line 2, column 1:" ends on a colon and shows nothing.
 */
export function describeSyntaxError(path: string, text: string, err: Error, format: 'yaml' | 'json'): string {
  const message = format === 'json' ? locateJsonError(text, err.message) : err.message;
  const [headline, ...excerpt] = message.split('\n');
  return `${path}: not valid YAML or JSON: ${headline ?? ''}${excerptLines(excerpt)}`;
}
