/**
 * The Docker CLI plugin protocol, as the Docker CLI (cli-plugins/manager) speaks it:
 *
 * - Discovery: Docker lists `docker-NAME` files (regular files or symlinks) in
 *   `$DOCKER_CONFIG/cli-plugins` (default `~/.docker/cli-plugins`), the `cliPluginsExtraDirs` of
 *   its config.json and the system plugin directories, and runs each as
 *   `docker-NAME docker-cli-plugin-metadata`, expecting one JSON object with `SchemaVersion`
 *   "0.1.0" and a non-empty `Vendor`.
 * - Invocation: `docker [GLOBAL OPTIONS] tufa ARGS…` runs the plugin with every argument Docker
 *   got: Docker's global options (`--config DIR`, `-D`, `--context NAME`, …), then the plugin's
 *   own name, then its arguments. `docker help tufa` runs it with `help tufa`.
 * - Termination: Docker also offers `DOCKER_CLI_PLUGIN_SOCKET`, a Linux abstract socket it closes
 *   when told to stop while its output is not a terminal. A plugin may ignore it (plugins built
 *   for older Docker versions do), and this one has to: Node.js 20 pads abstract socket names to
 *   the full address length, so it cannot reach Go's. SIGINT/SIGTERM sent to the plugin's process
 *   (Ctrl-C in a terminal reaches it directly) stop it as they stop `tufa`.
 */
import { resolve } from 'node:path';
import { VERSION } from './version.js';

/** The plugin's name: `docker tufa …`. Docker accepts `^[a-z][a-z0-9]*$`. */
export const PLUGIN_NAME = 'tufa';

/** The argument with which Docker asks a plugin candidate for its metadata. */
export const METADATA_SUBCOMMAND = 'docker-cli-plugin-metadata';

export interface PluginMetadata {
  SchemaVersion: '0.1.0';
  Vendor: string;
  Version: string;
  ShortDescription: string;
  URL: string;
}

/** What `docker-tufa docker-cli-plugin-metadata` prints. */
export function pluginMetadata(): PluginMetadata {
  return {
    SchemaVersion: '0.1.0',
    Vendor: 'tufa',
    Version: VERSION,
    ShortDescription: 'Content trust for images: sign and verify tags with TUF',
    URL: 'https://www.npmjs.com/package/@tufa/cli',
  };
}

/** Docker's global options that take a value (`--config DIR`, `-c NAME`, …), long and short. */
const VALUED_LONG = new Set(['config', 'context', 'host', 'log-level', 'tlscacert', 'tlscert', 'tlskey']);
const VALUED_SHORT = new Set(['c', 'H', 'l']);
/** Docker's global options without a value. */
const FLAG_LONG = new Set(['debug', 'tls', 'tlsverify']);
const FLAG_SHORT = new Set(['D']);

/** How the plugin was invoked. */
export type Invocation =
  | { kind: 'metadata' }
  /** Run tufa with `args`; `dockerConfig`: Docker's `--config DIR`, for registry credentials. */
  | { kind: 'run'; args: string[]; dockerConfig: string | undefined }
  /** Not as Docker runs a plugin (`docker-tufa verify …` typed by hand, say). */
  | { kind: 'not-docker'; found: string | undefined };

/**
 * Reads the arguments Docker passes (after `node` and the script): the metadata request, or
 * Docker's global options, then `tufa` (or `help tufa`), then tufa's own arguments. Docker has
 * already parsed and accepted its global options, so an option here that is not one of them
 * means Docker did not start this process.
 */
export function parseInvocation(args: readonly string[], cwd: string = process.cwd()): Invocation {
  if (args.length === 1 && args[0] === METADATA_SUBCOMMAND) return { kind: 'metadata' };
  let dockerConfig: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-' || !a.startsWith('-')) break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (VALUED_LONG.has(name)) {
        const value = eq < 0 ? args[++i] : a.slice(eq + 1);
        if (value === undefined) return { kind: 'not-docker', found: a };
        // Docker's `--config` replaces $DOCKER_CONFIG for the command; relative to the same cwd.
        if (name === 'config') dockerConfig = resolve(cwd, value);
      } else if (!FLAG_LONG.has(name)) {
        return { kind: 'not-docker', found: a };
      }
      continue;
    }
    // Short options, grouped as pflag allows: `-D`, `-c NAME`, `-cNAME`, `-c=NAME`, `-Dc NAME`.
    const letters = a.slice(1);
    for (let j = 0; j < letters.length; j++) {
      const letter = letters[j] as string;
      if (FLAG_SHORT.has(letter)) continue;
      if (!VALUED_SHORT.has(letter)) return { kind: 'not-docker', found: a };
      // The value is the rest of this argument, or else the next one.
      if (j === letters.length - 1 && args[++i] === undefined) return { kind: 'not-docker', found: a };
      break;
    }
  }
  const rest = args.slice(i);
  if (rest[0] === PLUGIN_NAME) return { kind: 'run', args: rest.slice(1), dockerConfig };
  // `docker help tufa [COMMAND]`: tufa's own help.
  if (rest[0] === 'help' && rest[1] === PLUGIN_NAME) {
    return { kind: 'run', args: ['help', ...rest.slice(2)], dockerConfig };
  }
  return { kind: 'not-docker', found: rest[0] };
}
