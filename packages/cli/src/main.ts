/** Parses the command line, runs one command, renders errors as `Error:` / `Hint:` lines. */
import { TufError } from '@tufa/core/errors';
import { safeJson, visible } from '@tufa/core/visible';
import { Command, CommanderError, Option } from 'commander';
import { CliError } from './cli-error.js';
import type { Context } from './context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createOutput, type Output } from './output.js';
import { VERSION } from './version.js';

type Handler = (ctx: Context, ...args: unknown[]) => Promise<number | undefined>;

/** Lazily loads `commands/<module>.js` and calls its export `fn`. */
function lazy(module: string, fn: string) {
  return async (ctx: Context, ...args: unknown[]): Promise<number | undefined> => {
    const mod = (await import(`./commands/${module}.js`)) as Record<string, Handler>;
    const handler = mod[fn];
    if (!handler) throw new Error(`internal: commands/${module}.js has no ${fn}`);
    return handler(ctx, ...args);
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-t, --type`: the key types tufa generates (kept here, not imported: start-up stays lean). */
function keyTypeOption(description: string): Option {
  return new Option('-t, --type <type>', description)
    .choices(['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'])
    .default('ed25519');
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || !/^\d+$/.test(value))
    throw new CliError(`not a whole number: ${value}`, EXIT.USAGE);
  return n;
}

export function buildProgram(run: (h: ReturnType<typeof lazy>, args: unknown[]) => void): Command {
  const program = new Command('tufa')
    .description('Sign container image digests and other artifacts with TUF, and verify them.')
    .version(VERSION, '-V, --version')
    .option('--json', 'machine-readable output on stdout')
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

  const act =
    (module: string, fn: string) =>
    (...args: unknown[]) =>
      run(lazy(module, fn), args);

  const key = program.command('key').description('manage signing keys');
  key
    .command('generate')
    .argument('<name>', 'key name (stored in $TUFA_HOME/keys/NAME.json)')
    .description('generate a key pair, encrypted at rest')
    .addOption(keyTypeOption('key type'))
    .option('-o, --out <path>', 'write the key file here instead of $TUFA_HOME/keys')
    .option('--pkcs11 <uri>', 'generate the key pair on a PKCS#11 token instead')
    .option('--unencrypted', 'store the private key without a passphrase (not recommended)')
    .action(act('key', 'generate'));
  key.command('list').description('list keys in $TUFA_HOME/keys').action(act('key', 'list'));
  key
    .command('import')
    .argument('<name>', 'key name')
    .argument('<file>', 'PKCS#8 PEM private key')
    .option('--unencrypted', 'store the private key without a passphrase (not recommended)')
    .description('import a private key, encrypting it at rest')
    .action(act('key', 'importKey'));
  key
    .command('export')
    .argument('<key>', 'key name, path or URI')
    .option('--pem', 'as a PEM public key instead of a TUF key object')
    .description('print a public key')
    .action(act('key', 'exportKey'));
  key
    .command('passwd')
    .argument('<key>', 'key name or path')
    .description('change the passphrase of a key file')
    .action(act('key', 'passwd'));
  key
    .command('rotate')
    .argument('<gun>', 'repository')
    .argument('<role>', 'root, targets, snapshot, timestamp or a delegated role')
    .option('-k, --key <ref>', 'the new key (default: generate one)')
    .addOption(keyTypeOption('type of a generated key'))
    .option('--root-key <ref>', 'a current root key (repeatable)', collect)
    .option('--new-root-key-out <dir>', 'where a generated root key is written (offline media)')
    .option('--delegator <role>', 'the role that delegates to a delegated role', 'targets')
    .description("replace a role's keys and publish")
    .action(act('rotate', 'rotate'));

  program
    .command('init')
    .argument('<gun>', 'repository name, e.g. registry.example.com/team/app')
    .requiredOption(
      '-p, --publish-root <dir>',
      'directory the repository is published under (<dir>/<gun>/metadata)',
    )
    .option('--root-key <ref>', 'an existing root key (repeatable)', collect)
    .option('--root-key-out <dir>', 'where to write a new root key: offline media')
    .option('--root-threshold <n>', 'root signatures required', positiveInt, 1)
    .option('--targets-key <ref>', 'the targets key (default: generate GUN-targets)')
    .option('--snapshot-key <ref>', 'the snapshot key (default: generate)')
    .option('--timestamp-key <ref>', 'the timestamp key (default: generate)')
    .addOption(keyTypeOption('type of generated keys'))
    .option('--unencrypted', 'store generated keys without a passphrase (not recommended)')
    .description('create a repository and its keys')
    .action(act('init', 'init'));

  program
    .command('attach')
    .argument('<gun>', 'repository name')
    .requiredOption('-p, --publish-root <dir>', 'directory the repository is published under')
    .requiredOption('--targets-key <ref>', 'the targets key (a key name, path or URI such as env:VAR)')
    .requiredOption('--snapshot-key <ref>', 'the snapshot key')
    .requiredOption('--timestamp-key <ref>', 'the timestamp key')
    .description('sign for a repository that was initialised elsewhere (e.g. from a CI job)')
    .action(act('init', 'attach'));

  program
    .command('sign')
    .argument('<gun>', 'repository, or GUN:TAG')
    .argument('[tag]', 'tag')
    .option('-d, --digest <digest>', 'manifest digest, sha256:HEX')
    .option('-s, --size <bytes>', 'manifest size in bytes', positiveInt)
    .option('-m, --manifest <file>', 'compute digest and size from a manifest (or any file)')
    .option(
      '-b, --bulk <file>',
      'sign many tags from a file (or - for stdin): lines "TAG sha256:HEX SIZE", or a JSON array',
    )
    .option('-r, --role <role>', 'sign into a delegated role')
    .option('--custom <json>', 'custom metadata (a JSON object) for the target')
    .description('sign tags and publish')
    .action(act('sign', 'sign'));
  program
    .command('unsign')
    .argument('<gun>', 'repository, or GUN:TAG')
    .argument('[tag]', 'tag')
    .option('-r, --role <role>', 'the delegated role the tag is in')
    .description('remove a signed tag and publish')
    .action(act('sign', 'unsign'));

  /** How a client reaches and pins a repository; `list` makes `--server` optional. */
  const clientOptions = (
    c: Command,
    server = 'where repositories are published (URL or directory)',
    required = true,
  ) =>
    (required ? c.requiredOption('--server <url|dir>', server) : c.option('--server <url|dir>', server))
      .option('--root <file>', 'root.json to pin trust to on first use')
      .option('--unsafe-tofu', 'trust whatever root the server sends the first time (unsafe)')
      .option(
        '--header <header>',
        'extra HTTP header, e.g. "Authorization: Bearer $TOKEN" (repeatable)',
        collect,
      )
      .option('--ca <file>', 'extra CA certificates (PEM)');
  clientOptions(
    program
      .command('verify')
      .argument('<gun>', 'repository, or an image reference GUN:TAG[@sha256:HEX]')
      .argument('[tag]', 'tag')
      .option('-d, --digest <digest>', 'exit 0 only if the tag is signed with this digest'),
  )
    .description('verify a tag with the full TUF client workflow (the CI gate)')
    .action(act('verify', 'verify'));
  clientOptions(program.command('lookup').argument('<gun>').argument('[tag]'))
    .description('show what a tag is signed as')
    .action(act('verify', 'lookup'));
  clientOptions(
    program.command('list').argument('<gun>', 'repository'),
    'list as a client of this server (verified), instead of the local repository',
    false,
  )
    .description('list signed tags')
    .action(act('verify', 'list'));

  const notary = program
    .command('notary')
    .description('verify Notary v1 / Docker Content Trust data (read-only) and migrate it to tufa');
  const notarySource = (c: Command) =>
    c
      .option('--server <url>', 'notary-server URL, e.g. https://notary.docker.io')
      .option(
        '--trust-dir <dir>',
        'Notary/Docker trust directory, e.g. ~/.docker/trust (its cached root is trusted)',
      )
      .option('--root <file>', 'a Notary root.json to trust')
      .option('--root-cert <file>', 'pin a root certificate, PEM (repeatable)', collect)
      .option('--root-key-id <id>', 'pin a root key id, as notary trust_pinning.certs (repeatable)', collect)
      .option('--unsafe-tofu', 'trust the oldest root the server sends (unsafe)')
      .option('--as-of <time>', 'judge expiry and certificates at this RFC 3339 time instead of now')
      .option(
        '--header <header>',
        'extra HTTP header, e.g. "Authorization: Bearer $TOKEN" (repeatable)',
        collect,
      )
      .option('--ca <file>', 'extra CA certificates (PEM)')
      .option(
        '--username <user>',
        'user for the registry token service (password from TUFA_REGISTRY_PASSWORD)',
      )
      .option(
        '--token-realm-host <host>',
        'also send the credentials to a token realm on this host (repeatable; see tokenRealmHosts in $TUFA_HOME/config.json)',
        collect,
      );
  notarySource(
    notary
      .command('verify')
      .argument('<ref>', 'GUN, or GUN:TAG[@sha256:HEX]')
      .option('-d, --digest <digest>', 'exit 0 only if the tag is signed with this digest'),
  )
    .description('verify a Notary trust collection, or what Docker Content Trust resolves a tag to')
    .action(act('notary', 'verify'));
  notarySource(
    notary
      .command('list')
      .argument('<gun>')
      .option('--all-roles', 'every verified (tag, role) pair, as notary list shows them'),
  )
    .description('list signed tags as Docker Content Trust sees them (targets/releases, then targets)')
    .action(act('notary', 'list'));
  notarySource(
    notary
      .command('migrate')
      .argument('<gun>', 'the GUN in Notary and of the tufa repository (set up with tufa init)')
      .option(
        '--role-map <map>',
        'NOTARY_ROLE=TUFA_ROLE, e.g. targets/releases=releases (repeatable)',
        collect,
      )
      .option(
        '--all-roles',
        'also import tags Docker Content Trust does not resolve, as notary lookup resolves them',
      )
      .option(
        '--replace',
        'replace tags tufa already signs with another digest, also where clients would find them first',
      )
      .option('--dry-run', 'show what would be imported, publish nothing'),
  )
    .description(
      'import what Docker Content Trust resolves each tag to into a tufa repository, with its provenance',
    )
    .action(act('notary', 'migrate'));

  const delegation = program.command('delegation').description('delegate tags to other keys');
  delegation
    .command('add')
    .argument('<gun>')
    .argument('<role>', 'delegated role name')
    .requiredOption(
      '-k, --key <ref>',
      'key of the role: a key name, path, public key file or URI (repeatable)',
      collect,
    )
    .option('--paths <pattern>', 'tag patterns the role may sign, shell-style (repeatable)', collect)
    .option('--threshold <n>', 'signatures required', positiveInt, 1)
    .option('--terminating', 'stop the search at this role')
    .option('--delegator <role>', 'the delegating role', 'targets')
    .description('add or update a delegated role')
    .action(act('delegation', 'add'));
  delegation
    .command('remove')
    .argument('<gun>')
    .argument('<role>')
    .option('--delegator <role>', 'the delegating role', 'targets')
    .description('remove a delegated role')
    .action(act('delegation', 'remove'));
  delegation
    .command('list')
    .argument('<gun>')
    .option('--delegator <role>', 'the delegating role', 'targets')
    .description('list delegated roles')
    .action(act('delegation', 'list'));

  const root = program.command('root').description('offline root signing ceremonies');
  root
    .command('sign-request')
    .argument('<gun>')
    .requiredOption('-o, --out <file>', 'write the signing request here')
    .option('--add-key <ref>', 'add a root key (repeatable)', collect)
    .option('--remove-key <keyid>', 'remove a root key (repeatable)', collect)
    .option('--threshold <n>', 'new root threshold', positiveInt)
    .option('--root-key <ref>', 'sign now with this root key too (repeatable)', collect)
    .description('create a request to sign the next root version')
    .action(act('root', 'signRequest'));
  root
    .command('sign')
    .argument('<request>', 'signing request file')
    .requiredOption('-k, --key <ref>', 'the key to sign with')
    .option(
      '--previous <root.json>',
      'the root the request replaces, which you trust: show the changes against it and check its threshold',
    )
    .option(
      '--gun <gun>',
      'compare with the root this machine last verified (or publishes) for this repository',
    )
    .option('-y, --yes', 'sign without asking (after reviewing what the command prints)')
    .option('-o, --out <file>', 'write the signed request here (default: in place)')
    .description('review a root signing request and sign it (on the offline machine)')
    .action(act('root', 'sign'));
  root
    .command('merge')
    .argument('<requests...>', 'signed copies of one request')
    .requiredOption('-o, --out <file>', 'write the merged request here')
    .description('merge signatures from several copies of a request')
    .action(act('root', 'merge'));
  root
    .command('publish')
    .argument('<gun>')
    .argument('<request>')
    .description('publish a fully signed request')
    .action(act('root', 'publish'));

  program
    .command('status')
    .argument('[gun]', 'repository (not needed with --request)')
    .option('--request <file>', 'show who signed a signing request instead')
    .option(
      '--previous <root.json>',
      'with --request: the root it replaces, to check against (else the root this machine trusts for GUN)',
    )
    .description('versions, expiry, thresholds and signatures of each role')
    .action(act('status', 'status'));
  program
    .command('timestamp')
    .argument('<gun>')
    .description('re-sign timestamp (and snapshot if due); safe from cron')
    .action(act('status', 'timestamp'));
  program
    .command('unlock')
    .argument('<gun>', 'repository')
    .option('-y, --yes', 'remove the lock without asking (the holder must be gone)')
    .description('remove a publish lock left by a publish that is gone (e.g. on another host)')
    .action(act('unlock', 'unlock'));
  program
    .command('serve')
    .argument('<dir>', 'publish root to serve')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', positiveInt, 8080)
    .description('serve published repositories read-only over HTTP (local use, demos, CI)')
    .action(act('serve', 'serve'));
  return program;
}

export function renderError(e: unknown, out: Output, debug: boolean): number {
  const err = e as { message?: string; code?: string; hint?: string; exitCode?: number; stack?: string };
  let code: number;
  if (e instanceof CliError) code = e.exitCode;
  else if (e instanceof Error && typeof err.code === 'string' && err.code.length > 0 && e.name !== 'Error') {
    code = exitCodeFor(err.code as never);
  } else code = EXIT.FAILURE;
  const raw = err?.message ?? String(e);
  // tufa's own messages may quote names from metadata, a server or a request: the whole message
  // is kept and escaped, so a line feed in a name cannot end it early or start a line of its
  // own. Anything else (a bug, a Node.js error) shows its first line.
  const message = e instanceof TufError || e instanceof CliError ? raw : (raw.split('\n')[0] ?? '');
  if (out.json) {
    process.stdout.write(
      `${safeJson({ tufa: 1, error: { message, code: err?.code ?? null, exitCode: code, hint: err?.hint ?? null } })}\n`,
    );
  }
  process.stderr.write(`Error: ${visible(message)}\n`);
  if (err?.hint) process.stderr.write(`Hint: ${visible(err.hint)}\n`);
  if (debug && err?.stack) process.stderr.write(`${visible(err.stack, { keepLayout: true })}\n`);
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const out = createOutput(json);
  let pending: Promise<number | undefined> | undefined;
  const program = buildProgram((handler, args) => {
    pending = handler({ out, debug }, ...args);
  });
  try {
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
      return EXIT.USAGE;
    }
    return renderError(e, out, debug);
  }
}
