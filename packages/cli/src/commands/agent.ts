/**
 * `tufa agent start|add|list|lock|unlock|stop`: keys unlocked once for a signing session, as
 * ssh-agent and gpg-agent do it (docs/adr/0024-signing-agent.md). `start` runs the agent in the
 * background and prints `TUFA_AGENT_SOCK=…; export TUFA_AGENT_SOCK`; signing commands then ask
 * the agent to sign with the keys added to it, and unlock key files themselves otherwise.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Key, Metadata, type Root } from '@tufa/core';
import { inspectKeyFile, redactUri, type SecretCallback, signerUriScheme } from '@tufa/core/node';
import { encodeBase64 } from '../agent/base64.js';
import { agentStatus, request, requireAgentSocket, SOCK_VARIABLE } from '../agent/client.js';
import { AgentError } from '../agent/protocol.js';
import { Agent, checkPrivateDir, type HeldKeyInfo } from '../agent/server.js';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { exists } from '../files.js';
import { allRepoConfigs } from '../home.js';
import { fileOf, keyFileFromEnv, refuseUnsetVariable, scryptN, toUri } from '../keys.js';
import { locationId } from '../locations.js';
import { storageFor } from '../repo.js';
import { ONLINE_ROLES, signerRefFor } from '../repo-config.js';
import { forRole, secretFromVariable, secretsFromEnvironment } from '../secrets.js';
import { onInterrupt } from '../signals.js';

/** Keys are forgotten after this long without a signature: gpg-agent's default cache TTL. */
const DEFAULT_IDLE = '10m';
const MAX_IDLE_SECONDS = 7 * 24 * 3600;
const LOCK_VARIABLE = 'TUFA_AGENT_LOCK_PASSPHRASE';

/** `600`, `90s`, `10m`, `2h` → seconds (1 s to 7 days). */
export function parseIdleTimeout(value: string): number {
  const m = /^([1-9][0-9]{0,6})([smh]?)$/.exec(value);
  const seconds = m
    ? Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600 } as const)[m[2] as '' | 's' | 'm' | 'h']
    : NaN;
  if (!(seconds >= 1 && seconds <= MAX_IDLE_SECONDS)) {
    throw usage(
      `--idle-timeout ${JSON.stringify(value)} is not a duration from 1 s to 7 days (expected e.g. 600, 90s, 10m or 2h)`,
      'tufa agent start --idle-timeout 10m',
    );
  }
  return seconds;
}

/** A value as `sh` reads it back: single-quoted when it holds anything but safe characters. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function exportLine(sock: string): string {
  return `${SOCK_VARIABLE}=${shellWord(sock)}; export ${SOCK_VARIABLE}`;
}

/** The environment the background agent runs with: no passphrase or PIN, which it never needs. */
function agentEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^TUFA_(NEW_)?PASSPHRASE|^TUFA_PIN$|^TUFA_AGENT_LOCK_PASSPHRASE$|^TUFA_AGENT_SOCK$/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The arguments that make `process.execPath` run tufa itself:
 * - the standalone executable (`bun build --compile`, ADR 0023) is tufa: no script, and the
 *   entry Bun reports is a path inside the executable (`/$bunfs/…`, `B:/~BUN/…`);
 * - as the Docker CLI plugin, argv[1] is docker-tufa, which takes Docker's plugin protocol: tufa's
 *   own entry beside this code instead — the bundle's `tufa.mjs`, or `bin.js` of the module build;
 * - otherwise the script that runs now, with Node's own flags.
 */
function tufaInvocation(): string[] {
  const entry = process.argv[1];
  if (entry !== undefined && /^(\/\$bunfs\/|[A-Z]:[\\/]~BUN[\\/])/.test(entry)) return [];
  if (entry !== undefined && /^docker-tufa(\.m?js)?$/.test(basename(entry))) {
    const own = [new URL('./tufa.mjs', import.meta.url), new URL('../bin.js', import.meta.url)]
      .map((u) => fileURLToPath(u))
      .find((f) => existsSync(f));
    if (own === undefined) throw new CliError('cannot find the tufa script to start the agent with');
    return [...process.execArgv, own];
  }
  if (entry === undefined) throw new CliError('cannot find the tufa script to start the agent with');
  return [...process.execArgv, entry];
}

/** Runs `tufa agent start --foreground` detached, and returns what it printed once listening. */
async function startInBackground(idleSeconds: number): Promise<{ socket: string; pid: number }> {
  const child = spawn(
    process.execPath,
    [...tufaInvocation(), '--json', 'agent', 'start', '--foreground', '--idle-timeout', String(idleSeconds)],
    // Its own session (no terminal to hang up), its cwd `/` (no directory kept busy), stdout a
    // pipe only until it says it listens.
    { detached: true, stdio: ['ignore', 'pipe', 'ignore'], cwd: '/', env: agentEnvironment() },
  );
  const first = await new Promise<string>((done, fail) => {
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      text += c;
      // One JSON document (indented over several lines): done once it parses.
      if (parses(text)) done(text);
    });
    child.on('error', fail);
    child.on('exit', (code) => done(text || `{"exit":${code}}`));
  });
  child.stdout.destroy();
  child.unref();
  let v: { agent?: { socket?: unknown; pid?: unknown }; error?: { message?: unknown; hint?: unknown } };
  try {
    v = JSON.parse(first);
  } catch {
    v = {};
  }
  const socket = v.agent?.socket;
  const pid = v.agent?.pid;
  if (typeof socket !== 'string' || typeof pid !== 'number') {
    const message = typeof v.error?.message === 'string' ? v.error.message : 'it exited before listening';
    throw new CliError(`the agent did not start: ${message}`, EXIT.FAILURE);
  }
  return { socket, pid };
}

/** Runs the agent in this process until it is stopped. */
async function runAgent(
  socketOption: string | undefined,
  idleSeconds: number,
  announce: (socket: string) => void,
): Promise<void> {
  // Without --socket: a fresh private directory (mkdtemp makes it 0700), removed on exit.
  const ownDir = socketOption === undefined ? mkdtempSync(join(tmpdir(), 'tufa-agent-')) : undefined;
  const socket = ownDir ? join(ownDir, 'agent.sock') : resolve(socketOption as string);
  if (!ownDir) {
    await mkdir(dirname(socket), { recursive: true, mode: 0o700 });
    checkPrivateDir(dirname(socket));
    if (exists(socket)) {
      throw usage(
        `${socket} already exists (another agent, or one that did not stop cleanly)`,
        `rm ${socket}`,
      );
    }
  }
  const n = scryptN();
  const agent = new Agent({
    socket,
    idleTimeoutMs: idleSeconds * 1000,
    ...(n === undefined ? {} : { lockScryptN: n }),
  });
  const cleanUp = () => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    else rmSync(socket, { force: true });
  };
  process.on('exit', cleanUp);
  try {
    await agent.listen();
  } catch (e) {
    cleanUp();
    throw e;
  }
  onInterrupt(() => agent.close());
  // Whoever started the agent in the background may have stopped reading.
  process.stdout.on('error', () => {});
  announce(socket);
  await agent.closed();
  cleanUp();
}

/**
 * Whether `key` is a root key of a repository set up on this machine: its published root lists
 * the same key material for the root role.
 */
async function rootOf(key: Key): Promise<string | undefined> {
  const material = key.materialId();
  for (const config of await allRepoConfigs()) {
    // Where the GUN is published: a directory, a registry or a trust server (the last two are
    // asked over the network, with the credentials the publishing commands use).
    const where = locationId(config.publishTo);
    let bytes: Uint8Array | undefined;
    let signed: Root;
    try {
      bytes = await (await storageFor(config)).read('metadata/root.json');
      if (bytes === undefined) continue;
      signed = Metadata.fromBytes(bytes, 'root').signed;
    } catch (e) {
      // Fail closed: a root we cannot read might list this very key.
      throw new CliError(
        `cannot tell whether the key is a root key of ${config.gun}: its root at ${where} cannot be read (${e instanceof Error ? e.message : 'unreadable'})`,
        EXIT.UNTRUSTED,
        `tufa status ${config.gun}`,
      );
    }
    for (const id of signed.roles.get('root')?.keyids ?? []) {
      if (material !== undefined && signed.keys.get(id)?.materialId() === material) return config.gun;
    }
  }
  return undefined;
}

/**
 * The bytes of the tufa key file a reference names: a key name, a path or `file:` URI, or an
 * `env:VAR` holding a key file (JSON or base64), as CI secrets do. `label` is how the signing
 * commands name it when they ask for its passphrase; `shown`, how the agent lists it.
 */
async function keyFileOf(ref: string): Promise<{ bytes: Uint8Array; label: string; shown: string }> {
  const uri = toUri(ref);
  const file = fileOf(uri);
  if (file !== undefined) {
    if (!exists(file)) throw new CliError(`key ${ref} not found (${file})`, EXIT.NOT_FOUND, 'tufa key list');
    return {
      bytes: new Uint8Array(await readFile(file)),
      label: `key file ${JSON.stringify(file)}`,
      shown: file,
    };
  }
  const scheme = signerUriScheme(uri);
  if (scheme === 'env') {
    // Unset is a usage error (exit 2), said as every other env: reference says it.
    refuseUnsetVariable(uri);
    const name = uri.slice(4);
    const bytes = keyFileFromEnv(process.env[name]);
    if (bytes === undefined) {
      throw usage(
        `${name} does not hold a tufa key file (the agent takes tufa key files, as JSON or base64, not PEM keys)`,
        `tufa key import NAME FILE.pem, then base64 -w0 $TUFA_HOME/keys/NAME.json into ${name}`,
      );
    }
    return { bytes, label: `environment variable ${name}`, shown: `env:${name}` };
  }
  throw usage(
    `the agent holds tufa key files only (a name, a path, file: or env:), not ${redactUri(ref)}`,
    scheme === 'pkcs11'
      ? 'a hardware key needs no agent: the token keeps it unlocked'
      : 'import the key first (tufa key import NAME FILE), then tufa agent add NAME',
  );
}

/**
 * The passphrase source for the key in `file`, as a signing command would use it: when a
 * repository set up here names the key for a role, that role's variable
 * (`TUFA_PASSPHRASE_<GUN_SLUG>_<ROLE>`) counts too.
 */
async function secretsFor(uri: string, secrets: SecretCallback): Promise<SecretCallback> {
  const file = fileOf(uri);
  for (const config of await allRepoConfigs()) {
    for (const role of [...ONLINE_ROLES, ...config.delegations.keys()]) {
      const ref = signerRefFor(config, role);
      const same =
        ref !== undefined && (file !== undefined ? fileOf(toUri(ref)) === file : toUri(ref) === uri);
      if (same) return forRole(secrets, config.gun, role);
    }
  }
  return secrets;
}

function keyLine(k: HeldKeyInfo): string {
  return `${k.keyid}  ${k.keytype}/${k.scheme}  ${k.label}${k.root ? '  (root)' : ''}`;
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'start',
    description: 'start an agent that holds unlocked keys in memory; prints TUFA_AGENT_SOCK for eval',
    arguments: [],
    options: [
      option(
        '--idle-timeout <duration>',
        'forget every key after this long without a signature (e.g. 600, 90s, 10m, 2h)',
        { default: DEFAULT_IDLE },
      ),
      option(
        '--foreground',
        'run the agent in this process (e.g. under a service manager) instead of in the background',
      ),
      option('--socket <path>', 'with --foreground: listen here; its directory must be yours with mode 0700'),
    ],
    async handler(ctx, _args, opts) {
      const idle = parseIdleTimeout(opts.idleTimeout);
      if (opts.socket !== undefined && !opts.foreground) {
        throw usage('--socket goes with --foreground', 'tufa agent start --foreground --socket PATH');
      }
      const show = (socket: string, pid: number) =>
        ctx.out.result({ agent: { socket, pid, idleTimeoutSeconds: idle } }, () => exportLine(socket));
      if (opts.foreground) {
        await runAgent(opts.socket, idle, (socket) => show(socket, process.pid));
        return EXIT.OK;
      }
      const { socket, pid } = await startInBackground(idle);
      show(socket, pid);
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'add',
    description: 'unlock key files once and hand them to the agent (root keys only with --allow-root)',
    arguments: [argument('<keys...>', 'key names or key file paths')],
    options: [
      option(
        '--allow-root',
        'also take a root key (for a ceremony on an offline machine; never in CI: an online root defeats its purpose)',
      ),
    ],
    async handler(ctx, [refs], opts) {
      const sock = requireAgentSocket();
      const secrets = secretsFromEnvironment();
      const added: HeldKeyInfo[] = [];
      for (const ref of refs) {
        const { bytes, label, shown } = await keyFileOf(ref);
        const info = inspectKeyFile(bytes, label);
        const uri = toUri(ref);
        const gun = await rootOf(info.key);
        if (gun !== undefined && !opts.allowRoot) {
          throw new AgentError(
            'AGENT_ROOT_REFUSED',
            `${shown} is a root key of ${gun}: the agent takes root keys only with --allow-root`,
            `root keys belong offline; on an offline machine, for a ceremony: tufa agent add ${ref} --allow-root`,
          );
        }
        const passphrase = info.encrypted
          ? await (await secretsFor(uri, secrets))({ kind: 'passphrase', keyid: info.keyid, label })
          : undefined;
        const r = await request(sock, {
          op: 'add',
          keyFile: encodeBase64(bytes),
          label: shown,
          root: gun !== undefined,
          ...(passphrase === undefined ? {} : { passphrase }),
        });
        added.push(r['added'] as HeldKeyInfo);
      }
      ctx.out.result({ added }, () => added.map((k) => `added ${keyLine(k)}`).join('\n'));
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'remove',
    description: 'make the agent forget keys (the others stay)',
    arguments: [argument('<keys...>', 'key names, key file paths or env: references')],
    options: [],
    async handler(ctx, [refs]) {
      const sock = requireAgentSocket();
      const removed: string[] = [];
      for (const ref of refs) {
        const { bytes, label } = await keyFileOf(ref);
        const { keyid } = inspectKeyFile(bytes, label);
        await request(sock, { op: 'remove', keyid });
        removed.push(keyid);
      }
      ctx.out.result({ removed }, () => removed.map((k) => `removed ${k}`).join('\n'));
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'list',
    description: 'show the keys the agent holds, and whether it is locked',
    arguments: [],
    options: [],
    async handler(ctx) {
      const sock = requireAgentSocket();
      const s = await agentStatus(sock);
      ctx.out.result({ agent: { socket: sock, ...s } }, () =>
        [
          `agent ${s.pid} at ${sock}: ${s.locked ? 'locked' : 'unlocked'}; forgets its keys after ${s.idleTimeoutSeconds} s idle`,
          ...(s.locked ? [] : s.keys.length === 0 ? ['no keys'] : s.keys.map(keyLine)),
        ].join('\n'),
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'lock',
    description: `make the agent sign nothing until unlocked with the same passphrase (${LOCK_VARIABLE} or a prompt)`,
    arguments: [],
    options: [],
    async handler(ctx) {
      const sock = requireAgentSocket();
      const passphrase = await secretFromVariable(LOCK_VARIABLE, 'passphrase to lock the agent with', true);
      await request(sock, { op: 'lock', passphrase });
      ctx.out.result({ agent: { socket: sock, locked: true } }, () => 'the agent is locked');
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'unlock',
    description: `let a locked agent sign again (the passphrase given to lock: ${LOCK_VARIABLE} or a prompt)`,
    arguments: [],
    options: [],
    async handler(ctx) {
      const sock = requireAgentSocket();
      const passphrase = await secretFromVariable(
        LOCK_VARIABLE,
        'passphrase the agent was locked with',
        false,
      );
      await request(sock, { op: 'unlock', passphrase });
      ctx.out.result({ agent: { socket: sock, locked: false } }, () => 'the agent is unlocked');
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'stop',
    description: 'stop the agent: it forgets every key and removes its socket',
    arguments: [],
    options: [],
    async handler(ctx) {
      const sock = requireAgentSocket();
      await request(sock, { op: 'stop' });
      ctx.out.result(
        { agent: { socket: sock, stopped: true } },
        () => `stopped the agent at ${sock}\nunset ${SOCK_VARIABLE}`,
      );
      return EXIT.OK;
    },
  }),
];
