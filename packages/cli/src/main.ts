/** Parses the command line, runs one command, renders errors as `Error:` / `Hint:` lines. */
import { TufError } from '@tufa/core/errors';
import { safeJson, visible } from '@tufa/core/visible';
import { Command, CommanderError } from 'commander';
import { CliError, defaultHint, errorCodes } from './cli-error.js';
import { argument, defineCommand, type RegisteredCommand, type Run, register } from './command.js';
import { asInvokedBy, TUFA } from './command-name.js';
import { EXIT } from './exit-codes.js';
import { fileProblem, isSystemError } from './files.js';
import { createOutput, type Output } from './output.js';
import { normalizeOutputFlag } from './output-flag.js';
import { VERSION } from './version.js';

/** One top-level entry of the command line, in the order `tufa --help` lists them. */
interface Entry {
  /** The top-level commands its modules define, or the name of the group they form. */
  names: readonly string[];
  /** For a group (`tufa key …`): its description. */
  group?: string;
  /** Its command modules: each exports `commands`, the definitions (flags and handler). */
  load: () => Promise<readonly { commands: readonly RegisteredCommand[] }[]>;
}

// Defined here, not in a command module: it needs every other command's definition.
const completionCommand = defineCommand({
  name: 'completion',
  description: 'print a shell completion script (bash, zsh or fish)',
  arguments: [argument('<shell>', 'bash, zsh or fish')],
  options: [],
  async handler(ctx, [shell]) {
    const { completionScript, SHELLS } = await import('./completion.js');
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new CliError(
        `no completion for ${JSON.stringify(shell)}: expected bash, zsh or fish`,
        EXIT.USAGE,
        'tufa completion bash',
      );
    }
    const program = await buildProgram(() => {});
    const script = completionScript(shell as (typeof SHELLS)[number], program);
    if (ctx.out.json) ctx.out.result({ shell, script }, () => script);
    else process.stdout.write(script);
    return EXIT.OK;
  },
});

// Imported only when needed: a command line loads the one module it names (with it the rest of
// core), so `tufa verify` in a CI job does not pay for every other command.
const ENTRIES: readonly Entry[] = [
  {
    names: ['key'],
    group: 'manage signing keys',
    load: async () => [await import('./commands/key.js'), await import('./commands/rotate.js')],
  },
  { names: ['init', 'attach'], load: async () => [await import('./commands/init.js')] },
  { names: ['sign', 'unsign'], load: async () => [await import('./commands/sign.js')] },
  { names: ['publish'], load: async () => [await import('./commands/publish.js')] },
  {
    names: ['verify', 'lookup', 'list', 'resolve', 'inspect'],
    load: async () => [await import('./commands/verify.js')],
  },
  {
    names: ['notary'],
    group: 'verify Notary v1 / Docker Content Trust data (read-only) and migrate it to tufa',
    load: async () => [await import('./commands/notary.js')],
  },
  {
    names: ['delegation'],
    group: 'delegate tags to other keys',
    load: async () => [await import('./commands/delegation.js')],
  },
  {
    names: ['root'],
    group: 'offline root signing ceremonies',
    load: async () => [await import('./commands/root.js')],
  },
  { names: ['status', 'timestamp'], load: async () => [await import('./commands/status.js')] },
  {
    names: ['agent'],
    group: 'hold unlocked keys for a signing session (as ssh-agent does)',
    load: async () => [await import('./commands/agent.js')],
  },
  { names: ['unlock'], load: async () => [await import('./commands/unlock.js')] },
  { names: ['serve'], load: async () => [await import('./commands/serve.js')] },
  { names: ['server'], load: async () => [await import('./commands/server.js')] },
  { names: ['completion'], load: async () => [{ commands: [completionCommand] }] },
];

/**
 * The entries a command line needs: the one its first word names; none for `--version` alone;
 * otherwise all of them (for help, a mistyped command, or no command). Global options take no
 * value, so the first word that is not an option is the command.
 */
export function entriesFor(args: readonly string[]): readonly Entry[] {
  const word = commandWord(args);
  if (word === undefined && args.some((a) => a === '-V' || a === '--version') && !args.some(isHelp))
    return [];
  const entry = ENTRIES.find((e) => word !== undefined && e.names.includes(word));
  return entry ? [entry] : ENTRIES;
}

/** The first word of a command line that is not an option: the command (global options take no value). */
function commandWord(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

function isHelp(arg: string): boolean {
  return arg === '-h' || arg === '--help';
}

/** The top-level command names (`key`, `init`, …), for rewriting hints (command-name.ts). */
const COMMAND_WORDS: readonly string[] = ['help', ...ENTRIES.flatMap((e) => e.names)];

/**
 * The program with `entries` registered; each command's action calls `run`. `name` is how the
 * user runs it (`docker tufa` for the Docker CLI plugin): usage lines and help say so. With
 * `only`, a top-level command of those entries, that command alone is registered of its module's
 * (`tufa verify` builds no flags and help for lookup, list, resolve and inspect: commander's
 * options are built on every run of every CI job).
 */
export async function buildProgram(
  run: Run,
  entries: readonly Entry[] = ENTRIES,
  name: string = TUFA,
  only?: string,
): Promise<Command> {
  const program = new Command(name)
    .description('Sign container image digests and other artifacts with TUF, and verify them.')
    .version(VERSION, '-V, --version')
    .option('--json', 'machine-readable output on stdout (also: -o json, --output json)')
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    // Set before any subcommand is created: commander copies these settings into subcommands.
    .exitOverride()
    .configureOutput({
      // Commander's messages quote the command line, which a script may have built from
      // third-party names: escaped like every other output.
      writeErr: (s) => process.stderr.write(visible(s, { keepLayout: true })),
      outputError: (s, write) => write(s.startsWith('error:') ? `Error: ${s.slice(7)}` : s),
    });
  for (const entry of entries) {
    const definitions = (await entry.load()).flatMap((m) => m.commands);
    if (entry.group !== undefined) {
      const group = program.command(entry.names[0] as string).description(entry.group);
      for (const d of definitions) register(group, d, run);
      continue;
    }
    const names = definitions.map((d) => d.name);
    if (names.join(' ') !== entry.names.join(' ')) {
      throw new Error(`internal: expected the commands ${entry.names.join(', ')}, found ${names.join(', ')}`);
    }
    const named = definitions.filter((d) => d.name === only);
    for (const d of named.length > 0 ? named : definitions) register(program, d, run);
  }
  return program;
}

export function renderError(
  thrown: unknown,
  out: Output,
  debug: boolean,
  commandName: string = TUFA,
): number {
  // A Node.js system error that no command explained (EISDIR, EACCES…): its documented exit code
  // and the path, not exit 1 and Node's wording.
  const e = isSystemError(thrown) ? fileProblem(thrown, thrown.path, thrown.syscall ?? 'use') : thrown;
  const err = e as { message?: string; hint?: string; stack?: string };
  const hint = err?.hint ?? defaultHint(e);
  const { code: errorCode, exitCode: code } = errorCodes(e);
  const raw = err?.message ?? String(e);
  // tufa's own messages may quote names from metadata, a server or a request: the whole message
  // is kept and escaped, so a line feed in a name cannot end it early or start a line of its
  // own. Anything else (a bug, a Node.js error) shows its first line.
  const message = e instanceof TufError || e instanceof CliError ? raw : (raw.split('\n')[0] ?? '');
  if (out.json) {
    process.stdout.write(
      `${safeJson({ tufa: 1, error: { message, code: errorCode, exitCode: code, hint: hint ?? null } })}\n`,
    );
  }
  process.stderr.write(`Error: ${visible(message)}\n`);
  // The JSON above keeps the hint as `tufa` writes it: stdout is the same whichever way tufa runs.
  if (hint) process.stderr.write(`Hint: ${visible(asInvokedBy(hint, commandName, COMMAND_WORDS))}\n`);
  // The stack of what was thrown, not of the explanation made from it.
  const stack = (thrown as { stack?: string } | undefined)?.stack;
  if (debug && stack) process.stderr.write(`${visible(stack, { keepLayout: true })}\n`);
  return code;
}

export interface MainOptions {
  /** How the user runs the CLI: `tufa` (the default), or `docker tufa` for the Docker CLI plugin. */
  commandName?: string;
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const commandName = options.commandName ?? TUFA;
  argv = normalizeOutputFlag(argv); // -o json, --output json
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const out = createOutput(json);
  let pending: Promise<number | undefined> | undefined;
  try {
    const program = await buildProgram(
      (call) => {
        pending = call({ out, debug });
      },
      entriesFor(argv.slice(2)),
      commandName,
      commandWord(argv.slice(2)),
    );
    await program.parseAsync(argv);
    if (!pending) return EXIT.OK;
    return (await pending) ?? EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.OK;
      // Commander has written its `Error:` line; a script reading --json gets the error object too.
      if (out.json) {
        const message = e.message.replace(/^error: /, '');
        process.stdout.write(
          `${safeJson({ tufa: 1, error: { message, code: 'USAGE', exitCode: EXIT.USAGE, hint: 'tufa --help' } })}\n`,
        );
      }
      return EXIT.USAGE;
    }
    return renderError(e, out, debug, commandName);
  }
}
