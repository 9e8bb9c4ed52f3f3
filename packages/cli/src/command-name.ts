/**
 * How the user runs tufa: `tufa`, or `docker tufa` through the Docker CLI plugin
 * (docker-plugin.ts). A hint is an exact command to run next, so it is written the way the user
 * runs the CLI.
 */

/** The name the CLI goes by when run directly. */
export const TUFA = 'tufa';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `text` with each `tufa COMMAND` (COMMAND one of `commands`, as a whole word) written as
 * `commandName COMMAND`. Only invocations are rewritten: prose such as "tufa takes …", paths
 * (`~/.tufa/…`), file names (`.tufa-publish.lock`) and `$TUFA_HOME` are left as they are.
 */
export function asInvokedBy(text: string, commandName: string, commands: readonly string[]): string {
  if (commandName === TUFA || commands.length === 0) return text;
  const words = commands.map(escapeRegExp).join('|');
  // Preceded by the start, a space or an opening quote or bracket: not part of a path or a word.
  const invocation = new RegExp(`(^|[\\s\`'"(])${TUFA} (?=(?:${words})(?![\\w-]))`, 'g');
  return text.replace(invocation, (_, before: string) => `${before}${commandName} `);
}
