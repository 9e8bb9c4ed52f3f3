/**
 * `tufa agent`: keys unlocked once for a signing session. Everything runs through the built
 * binary; the agent runs in the background as users run it (`eval "$(tufa agent start)"`), with
 * TMPDIR inside the sandbox so its directory can be scanned and is removed with it.
 */

import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_BUNDLE } from './helpers/bundle.js';
import {
  BIN,
  digestOf,
  expectError,
  expectExit,
  expectJson,
  fileMode,
  listFiles,
  newestVersion,
  PASSPHRASE,
  publisher,
  readJson,
  runProcess,
  Sandbox,
  tufaEnv,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-agent-');
const TMP = sandbox.path('tmp');
const GUN = 'registry.example.com/team/app';
const repo = publisher(sandbox, GUN);
const KEYS = [
  'registry-example-com-team-app-targets',
  'registry-example-com-team-app-snapshot',
  'registry-example-com-team-app-timestamp',
];
const LOCK = 'Agent-lock-passphrase-7731';

/** Agents started here, stopped after the tests whatever happens. */
const started: { sock: string; pid: number }[] = [];

interface Agent {
  sock: string;
  pid: number;
  /** Runs tufa with TUFA_AGENT_SOCK naming this agent (and, unless given, no passphrase at all). */
  tufa(args: string[], env?: Record<string, string | undefined>): ReturnType<Sandbox['tufa']>;
}

async function startAgent(extra: string[] = [], tmp = TMP): Promise<Agent> {
  const v = expectJson<{ agent: { socket: string; pid: number; idleTimeoutSeconds: number } }>(
    await sandbox.tufa(['--json', 'agent', 'start', ...extra], { env: { TMPDIR: tmp } }),
  );
  const { socket: sock, pid } = v.agent;
  started.push({ sock, pid });
  return {
    sock,
    pid,
    tufa: (args, env = {}) =>
      sandbox.tufa(args, { env: { TUFA_AGENT_SOCK: sock, TUFA_PASSPHRASE: undefined, TMPDIR: tmp, ...env } }),
  };
}

const sign = (a: Agent, tag: string, env?: Record<string, string | undefined>) =>
  a.tufa(['sign', GUN, tag, '--digest', digestOf(tag), '--size', '100'], env);

/** Polls `check` until it holds, for at most `bound` ms (generous: never a claim about speed). */
async function eventually(check: () => Promise<boolean>, bound = 120_000): Promise<void> {
  const end = Date.now() + bound;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('the state did not change within the bound');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One raw exchange with the agent: frames in, frames out (for malformed requests). */
function raw(
  sock: string,
  frames: Buffer[],
  replies: number,
): Promise<{ replies: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((done, fail) => {
    const c = connect(sock);
    let buf = Buffer.alloc(0);
    const out: Record<string, unknown>[] = [];
    let closed = false;
    c.on('connect', () => {
      for (const f of frames) c.write(f);
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        out.push(JSON.parse(buf.subarray(4, 4 + n).toString('utf8')));
        buf = buf.subarray(4 + n);
      }
      if (out.length >= replies) {
        c.destroy();
        done({ replies: out, closed });
      }
    });
    c.on('end', () => {
      closed = true;
    });
    c.on('close', () => done({ replies: out, closed: true }));
    c.on('error', fail);
  });
}

function frame(body: string | object): Buffer {
  const b = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length, 0);
  return Buffer.concat([h, b]);
}

/** The private key of the targets role, generated here so the test can look for it on disk. */
const targetsPair = generateKeyPairSync('ed25519');
const targetsDer = targetsPair.privateKey.export({ type: 'pkcs8', format: 'der' });
const targetsPem = targetsPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

beforeAll(async () => {
  mkdirSync(TMP, { mode: 0o700 });
  const pem = sandbox.path('targets.pem');
  writeFileSync(pem, targetsPem, { mode: 0o600 });
  expectExit(await sandbox.tufa(['key', 'import', KEYS[0] as string, pem]), 0);
  rmSync(pem);
  expectExit(
    await sandbox.tufa([
      'init',
      GUN,
      '--publish-root',
      'pub',
      '--root-key-out',
      'offline',
      '--targets-key',
      KEYS[0] as string,
    ]),
    0,
  );
});

afterAll(async () => {
  for (const { sock, pid } of started) {
    await sandbox.tufa(['agent', 'stop'], { env: { TUFA_AGENT_SOCK: sock } });
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  sandbox.cleanup();
});

describe('tufa agent start', () => {
  it('prints a line for sh to eval; the socket is 0600 in a 0700 directory', async () => {
    const r = expectExit(await sandbox.tufa(['agent', 'start'], { env: { TMPDIR: TMP } }), 0);
    expect(r.stdout).toMatch(/^TUFA_AGENT_SOCK=\S+; export TUFA_AGENT_SOCK\n$/);
    const sh = await runProcess('sh', ['-c', `${r.stdout.trim()}; printf %s "$TUFA_AGENT_SOCK"`]);
    const sock = sh.stdout;
    expect(sock.startsWith(`${TMP}/tufa-agent-`)).toBe(true);
    const a = { sock, tufa: (args: string[]) => sandbox.tufa(args, { env: { TUFA_AGENT_SOCK: sock } }) };
    const list = expectJson<{ agent: { pid: number; locked: boolean; keys: unknown[] } }>(
      await a.tufa(['--json', 'agent', 'list']),
    );
    started.push({ sock, pid: list.agent.pid });
    expect(list.agent).toMatchObject({ locked: false, keys: [] });
    expect(fileMode(dirname(sock))).toBe(0o700);
    expect(fileMode(sock)).toBe(0o600);
    const stop = expectExit(await a.tufa(['agent', 'stop']), 0);
    expect(stop.stdout).toContain('stopped the agent');
    // Stopped: its directory is gone, and commands say there is no agent.
    await eventually(async () => {
      try {
        readFileSync(dirname(sock));
        return false;
      } catch (e) {
        return (e as { code?: string }).code === 'ENOENT';
      }
    });
    expectError(await a.tufa(['agent', 'list']), 7, 'no agent at', 'tufa agent start');
  });

  it('starts as `docker tufa agent start` too (the Docker CLI plugin entry point)', async () => {
    // The bundled plugin, as bin/docker-tufa.js runs it.
    const plugin = DOCKER_BUNDLE;
    const r = await runProcess(process.execPath, [plugin, 'tufa', '--json', 'agent', 'start'], {
      env: tufaEnv({ TUFA_HOME: sandbox.home, TMPDIR: TMP }),
    });
    const v = expectJson<{ agent: { socket: string; pid: number } }>(r);
    started.push({ sock: v.agent.socket, pid: v.agent.pid });
    expectExit(await sandbox.tufa(['agent', 'stop'], { env: { TUFA_AGENT_SOCK: v.agent.socket } }), 0);
  });

  it('refuses a malformed --idle-timeout (exit 2) and needs TUFA_AGENT_SOCK for the other commands', async () => {
    expectError(await sandbox.tufa(['agent', 'start', '--idle-timeout', '0']), 2, 'not a duration');
    expectError(await sandbox.tufa(['agent', 'start', '--idle-timeout', '5 minutes']), 2, 'not a duration');
    const r = await sandbox.tufa(['--json', 'agent', 'list']);
    expectError(r, 7, 'TUFA_AGENT_SOCK is not set', 'eval "$(tufa agent start)"');
    expect(JSON.parse(r.stdout).error.code).toBe('AGENT_UNREACHABLE');
  });
});

describe('signing through the agent', () => {
  let agent: Agent;
  beforeAll(async () => {
    agent = await startAgent(['--idle-timeout', '1h']);
  });

  it('asks each passphrase once: later commands sign with no passphrase anywhere', async () => {
    // Before any key is added, a signing command unlocks the key file itself: with no
    // passphrase available that fails, which is what shows the agent signs below.
    expectError(await sign(agent, 'before'), 6, /no passphrase for key file/);
    const add = expectJson<{ added: { keyid: string; root: boolean }[] }>(
      await agent.tufa(['--json', 'agent', 'add', ...KEYS], { TUFA_PASSPHRASE: PASSPHRASE }),
    );
    expect(add.added.map((k) => k.root)).toEqual([false, false, false]);
    for (const tag of ['v1', 'v2', 'v3']) expectExit(await sign(agent, tag), 0);
    expectExit(await agent.tufa(['timestamp', GUN]), 0);
    // What the agent signed verifies as a client sees it.
    const client = sandbox.client();
    for (const tag of ['v1', 'v2', 'v3']) {
      const v = expectJson<{ digest: string }>(
        await client.tufa(['--json', 'verify', `${GUN}:${tag}`, '--server', repo.pub, '--root', repo.root]),
      );
      expect(JSON.stringify(v)).toContain(digestOf(tag).slice(7));
    }
  });

  it('never writes a private key to disk unencrypted (home, temp and publish directories)', async () => {
    expectExit(await sign(agent, 'scan'), 0);
    const needles = [
      targetsDer,
      targetsDer.subarray(targetsDer.length - 32), // the Ed25519 seed
      Buffer.from(targetsDer.toString('base64')),
      Buffer.from(targetsDer.subarray(targetsDer.length - 32).toString('hex')),
      Buffer.from(targetsDer.subarray(targetsDer.length - 32).toString('base64')),
      Buffer.from(targetsPem.split('\n')[1] as string),
    ];
    const files = listFiles(sandbox.dir);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(sandbox.dir, f));
      } catch {
        continue; // the socket
      }
      for (const n of needles) expect(bytes.includes(n), `${f} holds the private key`).toBe(false);
    }
  });

  it('a locked agent signs nothing and says so (exit 6, Hint: tufa agent unlock)', async () => {
    expectExit(await agent.tufa(['agent', 'lock'], { TUFA_AGENT_LOCK_PASSPHRASE: LOCK }), 0);
    const before = newestVersion(repo.md, 'targets');
    const r = await agent.tufa([
      '--json',
      'sign',
      GUN,
      'locked',
      '--digest',
      digestOf('locked'),
      '--size',
      '1',
    ]);
    expectError(r, 6, 'is locked', 'tufa agent unlock');
    expect(JSON.parse(r.stdout).error.code).toBe('AGENT_LOCKED');
    expect(newestVersion(repo.md, 'targets')).toBe(before);
    // Even with the passphrase at hand, the command does not quietly go around the lock.
    expectError(await sign(agent, 'locked', { TUFA_PASSPHRASE: PASSPHRASE }), 6, 'is locked');
    const list = expectJson<{ agent: { locked: boolean; keys: unknown[] } }>(
      await agent.tufa(['--json', 'agent', 'list']),
    );
    expect(list.agent).toMatchObject({ locked: true, keys: [] });
    expectError(
      await agent.tufa(['agent', 'add', KEYS[0] as string], { TUFA_PASSPHRASE: PASSPHRASE }),
      6,
      'locked',
    );
    expectError(
      await agent.tufa(['agent', 'unlock'], { TUFA_AGENT_LOCK_PASSPHRASE: 'not-the-lock-passphrase' }),
      6,
      'wrong passphrase',
    );
    expectError(await agent.tufa(['agent', 'unlock']), 6, 'TUFA_AGENT_LOCK_PASSPHRASE is not set');
    // Forgetting needs no lock passphrase.
    expectExit(await agent.tufa(['agent', 'remove', KEYS[2] as string]), 0);
    expectExit(await agent.tufa(['agent', 'unlock'], { TUFA_AGENT_LOCK_PASSPHRASE: LOCK }), 0);
    expectExit(await agent.tufa(['agent', 'add', KEYS[2] as string], { TUFA_PASSPHRASE: PASSPHRASE }), 0);
    expectError(await agent.tufa(['agent', 'unlock'], { TUFA_AGENT_LOCK_PASSPHRASE: LOCK }), 2, 'not locked');
    expectExit(await sign(agent, 'unlocked'), 0);
  });

  it('refuses a root key without --allow-root, and says why', async () => {
    const rootKey = sandbox.path('offline', 'root-registry-example-com-team-app.json');
    const r = await agent.tufa(['--json', 'agent', 'add', rootKey], { TUFA_PASSPHRASE: PASSPHRASE });
    expectError(r, 2, `is a root key of ${GUN}`, '--allow-root');
    expect(JSON.parse(r.stdout).error.code).toBe('AGENT_ROOT_REFUSED');
    let list = expectJson<{ agent: { keys: { label: string }[] } }>(
      await agent.tufa(['--json', 'agent', 'list']),
    );
    expect(list.agent.keys.map((k) => k.label)).not.toContain(rootKey);
    const ok = expectJson<{ added: { label: string; root: boolean }[] }>(
      await agent.tufa(['--json', 'agent', 'add', '--allow-root', rootKey], { TUFA_PASSPHRASE: PASSPHRASE }),
    );
    expect(ok.added).toEqual([expect.objectContaining({ label: rootKey, root: true })]);
    list = expectJson(await agent.tufa(['--json', 'agent', 'list']));
    expect(list.agent.keys.map((k) => k.label)).toContain(rootKey);
  });

  it('serves delegation commands and delegated roles too', async () => {
    expectExit(await sandbox.tufa(['key', 'generate', 'team-key']), 0);
    expectExit(await agent.tufa(['agent', 'add', 'team-key'], { TUFA_PASSPHRASE: PASSPHRASE }), 0);
    // No passphrase anywhere: targets (delegation add) and team-key (sign --role) are the agent's.
    expectExit(
      await agent.tufa(['delegation', 'add', GUN, 'team', '--key', 'team-key', '--paths', 'team-*']),
      0,
    );
    expectExit(
      await agent.tufa([
        'sign',
        GUN,
        'team-1',
        '--role',
        'team',
        '--digest',
        digestOf('team-1'),
        '--size',
        '1',
      ]),
      0,
    );
    const v = expectJson<{ role: string }>(
      await sandbox
        .client()
        .tufa(['--json', 'verify', `${GUN}:team-1`, '--server', repo.pub, '--root', repo.root]),
    );
    expect(v.role).toBe('team');
  });

  it('remove forgets one key, keeps the others; signing then needs that key file again', async () => {
    const snapshotKey = KEYS[1] as string;
    const keyid = readJson(sandbox.path('home', 'keys', `${snapshotKey}.json`)).keyid as string;
    const v = expectJson<{ removed: string[] }>(await agent.tufa(['--json', 'agent', 'remove', snapshotKey]));
    expect(v.removed).toEqual([keyid]);
    const list = expectJson<{ agent: { keys: { keyid: string }[] } }>(
      await agent.tufa(['--json', 'agent', 'list']),
    );
    expect(list.agent.keys.map((k) => k.keyid)).not.toContain(keyid);
    expect(list.agent.keys.length).toBeGreaterThan(0);
    expectError(await sign(agent, 'removed'), 6, /no passphrase for key file .*snapshot/);
    expectError(
      await agent.tufa(['agent', 'remove', snapshotKey]),
      6,
      'does not hold the key',
      'tufa agent list',
    );
    expectExit(await agent.tufa(['agent', 'add', snapshotKey], { TUFA_PASSPHRASE: PASSPHRASE }), 0);
    expectExit(await sign(agent, 'removed'), 0);
  });

  it('fails closed when a published root it must check cannot be read (exit 3)', async () => {
    const broken = 'registry.example.com/team/broken';
    expectExit(await sandbox.tufa(['init', broken, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
    const rootFile = join(repo.pub, ...broken.split('/'), 'metadata', 'root.json');
    const good = readFileSync(rootFile);
    writeFileSync(rootFile, '{"signed": ');
    try {
      const r = await agent.tufa(['agent', 'add', KEYS[1] as string], { TUFA_PASSPHRASE: PASSPHRASE });
      expectError(r, 3, `cannot tell whether the key is a root key of ${broken}`, `tufa status ${broken}`);
    } finally {
      writeFileSync(rootFile, good);
    }
    expectExit(await agent.tufa(['agent', 'add', KEYS[1] as string], { TUFA_PASSPHRASE: PASSPHRASE }), 0);
  });

  it('a wrong passphrase on add is exit 6 and adds nothing', async () => {
    const r = await agent.tufa(['agent', 'add', 'registry-example-com-team-app-snapshot'], {
      TUFA_PASSPHRASE: 'wrong-passphrase-000',
    });
    expectError(r, 6, 'wrong passphrase or corrupted key file');
  });

  it('answers malformed requests with a typed error and keeps serving', async () => {
    const status = { tufa_agent: 1, op: 'status' };
    // Not JSON, then another version, then an unknown operation, then a good one: one connection.
    const r = await raw(
      agent.sock,
      [
        frame('{not json'),
        frame({ tufa_agent: 2, op: 'status' }),
        frame({ tufa_agent: 1, op: 'steal' }),
        frame({ tufa_agent: 1, op: `x\u001b[2J${'x'.repeat(5000)}` }),
        frame({ tufa_agent: 1, op: 'sign', keyid: 7 }),
        frame(status),
      ],
      6,
    );
    expect(r.replies.map((x) => (x.error as { code?: string } | undefined)?.code ?? 'ok')).toEqual([
      'AGENT_PROTOCOL',
      'AGENT_PROTOCOL',
      'AGENT_PROTOCOL',
      'AGENT_PROTOCOL',
      'AGENT_PROTOCOL',
      'ok',
    ]);
    expect(JSON.stringify(r.replies[1])).toContain('unsupported protocol version');
    expect(JSON.stringify(r.replies[2])).toContain('unknown operation steal (expected status, add, sign');
    // What the peer sent is not echoed back when it is not a plain short word.
    expect(JSON.stringify(r.replies[3])).toContain('unknown operation (not shown)');
    expect(JSON.stringify(r.replies[4])).toContain('sign takes keyid (a string)');
    // A length over the bound: an error, that connection closed, and the agent still serves.
    const big = Buffer.alloc(4);
    big.writeUInt32BE(0xffffffff, 0);
    const b = await raw(agent.sock, [big], 1);
    expect(b.replies[0]).toMatchObject({ ok: false, error: { code: 'AGENT_PROTOCOL' } });
    expect(JSON.stringify(b.replies[0])).toContain('out of bounds');
    // Signing for a keyid with another public key than the one held: refused.
    const held = expectJson<{ agent: { keys: { keyid: string }[] } }>(
      await agent.tufa(['--json', 'agent', 'list']),
    );
    const keyid = held.agent.keys[0]?.keyid as string;
    const other = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: '11'.repeat(32) } };
    const s = await raw(
      agent.sock,
      [frame({ tufa_agent: 1, op: 'sign', keyid, key: other, data: 'AA==' })],
      1,
    );
    expect(s.replies[0]).toMatchObject({ ok: false, error: { code: 'AGENT_NOT_HELD' } });
    const ok = await raw(agent.sock, [frame(status)], 1);
    expect(ok.replies[0]).toMatchObject({ ok: true, locked: false });
  });

  it('signs the very bytes sent, large ones too (a big targets role)', async () => {
    const keyid = readJson(sandbox.path('home', 'keys', `${KEYS[0]}.json`)).keyid as string;
    const key = readJson(sandbox.path('home', 'keys', `${KEYS[0]}.json`)).key;
    const data = randomBytes(12 * 1024 * 1024);
    const r = await raw(
      agent.sock,
      [frame({ tufa_agent: 1, op: 'sign', keyid, key, data: data.toString('base64') })],
      1,
    );
    expect(r.replies[0]).toMatchObject({ ok: true });
    const sig = Buffer.from(r.replies[0]?.sig as string, 'hex');
    expect(verify(null, data, targetsPair.publicKey, sig)).toBe(true);
    data[0] = (data[0] as number) ^ 1;
    expect(verify(null, data, targetsPair.publicKey, sig)).toBe(false);
  });
});

describe('the idle timeout', () => {
  it('an idle agent forgets its keys; commands then unlock key files themselves', async () => {
    const agent = await startAgent(['--idle-timeout', '1']);
    const add = expectJson<{ added: { keyid: string }[] }>(
      await agent.tufa(['--json', 'agent', 'add', ...KEYS], { TUFA_PASSPHRASE: PASSPHRASE }),
    );
    // The add's own answer shows the keys were held (listing now could already be too late).
    expect(add.added).toHaveLength(3);
    await eventually(async () => {
      const v = expectJson<{ agent: { keys: unknown[] } }>(await agent.tufa(['--json', 'agent', 'list']));
      return v.agent.keys.length === 0;
    });
    expectError(await sign(agent, 'idle'), 6, /no passphrase for key file/);
    expectExit(await sign(agent, 'idle', { TUFA_PASSPHRASE: PASSPHRASE }), 0);
  });
});

describe('tufa agent add and the role passphrase variables', () => {
  it("takes a key's passphrase from the variable of the role it signs, as signing commands do", async () => {
    // A timestamp key whose name says nothing of its role.
    expectExit(await sandbox.tufa(['key', 'generate', 'ops-key']), 0);
    const rootKey = sandbox.path('offline', 'root-registry-example-com-team-app.json');
    expectExit(
      await sandbox.tufa(['key', 'rotate', GUN, 'timestamp', '--key', 'ops-key', '--root-key', rootKey]),
      0,
    );
    const agent = await startAgent();
    const roleVariable = 'TUFA_PASSPHRASE_REGISTRY_EXAMPLE_COM_TEAM_APP_TIMESTAMP';
    expectError(await agent.tufa(['agent', 'add', 'ops-key']), 6, 'no passphrase for key file');
    const v = expectJson<{ added: { label: string }[] }>(
      await agent.tufa(['--json', 'agent', 'add', 'ops-key'], { [roleVariable]: PASSPHRASE }),
    );
    expect(v.added[0]?.label).toBe(sandbox.path('home', 'keys', 'ops-key.json'));
    expectExit(await agent.tufa(['agent', 'stop']), 0);
  });
});

describe('env: keys, as CI secrets hold them', () => {
  it('adds a key file held in a variable (base64) and signs with it; a PEM there is refused', async () => {
    const gun = 'registry.example.com/team/ci';
    const file = sandbox.path('ci-targets.json');
    expectExit(await sandbox.tufa(['key', 'generate', 'ci-targets', '--out', file]), 0);
    const secret = { TUFA_CI_TARGETS_KEY: readFileSync(file).toString('base64') };
    rmSync(file);
    expectExit(
      await sandbox.tufa(
        [
          'init',
          gun,
          '--publish-root',
          'pub',
          '--root-key-out',
          'offline',
          '--targets-key',
          'env:TUFA_CI_TARGETS_KEY',
        ],
        { env: secret },
      ),
      0,
    );
    const agent = await startAgent();
    const add = expectJson<{ added: { label: string }[] }>(
      await agent.tufa(
        [
          '--json',
          'agent',
          'add',
          'env:TUFA_CI_TARGETS_KEY',
          'registry-example-com-team-ci-snapshot',
          'registry-example-com-team-ci-timestamp',
        ],
        { ...secret, TUFA_PASSPHRASE: PASSPHRASE },
      ),
    );
    expect(add.added[0]?.label).toBe('env:TUFA_CI_TARGETS_KEY');
    // No passphrase anywhere: every key of the command is the agent's.
    expectExit(await agent.tufa(['sign', gun, 'ci', '--digest', digestOf('ci'), '--size', '1'], secret), 0);
    const client = sandbox.client();
    const root = join(repo.pub, ...gun.split('/'), 'metadata', '1.root.json');
    expectExit(await client.tufa(['verify', `${gun}:ci`, '--server', repo.pub, '--root', root]), 0);
    const pem = await agent.tufa(['agent', 'add', 'env:TUFA_CI_PEM'], { TUFA_CI_PEM: targetsPem });
    expectError(pem, 2, 'TUFA_CI_PEM does not hold a tufa key file', 'tufa key import');
    expect(pem.stderr).not.toContain(targetsPem.split('\n')[1] as string);
    expectError(
      await agent.tufa(['agent', 'add', 'env:TUFA_CI_UNSET']),
      2,
      'environment variable TUFA_CI_UNSET is not set',
      'export TUFA_CI_UNSET',
    );
    expectExit(await agent.tufa(['agent', 'stop']), 0);
  });
});

const hasScript = ['/usr/bin/script', '/bin/script'].some((p) => existsSync(p));

/**
 * `tufa ARGS` on a pseudo-terminal (util-linux `script`), typing each answer once its prompt has
 * appeared (never on a timer).
 */
function onTerminal(
  args: string[],
  env: Record<string, string>,
  answers: [RegExp, string][],
): Promise<{ code: number | null; output: string }> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], {
    cwd: sandbox.dir,
    env: tufaEnv({ TUFA_HOME: sandbox.home, ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let seen = 0;
  let next = 0;
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    output += c;
    const pending = answers[next];
    if (pending?.[0].test(output.slice(seen))) {
      seen = output.length;
      next++;
      child.stdin.write(`${pending[1]}\r`);
    }
  });
  return new Promise((done) => child.on('close', (code) => done({ code, output })));
}

describe('lock and unlock on a terminal', () => {
  it.runIf(hasScript || process.env.CI === 'true')(
    'asks the lock passphrase twice, the unlock passphrase once',
    async () => {
      const agent = await startAgent();
      const env = { TUFA_AGENT_SOCK: agent.sock };
      const differ = await onTerminal(['agent', 'lock'], env, [
        [/Passphrase to lock the agent with: $/, LOCK],
        [/Repeat it: $/, 'something else'],
      ]);
      expect(differ.code, differ.output).toBe(6);
      expect(differ.output).toContain('Error: the two passphrases differ');
      expect(differ.output).not.toContain(LOCK);
      const lock = await onTerminal(['agent', 'lock'], env, [
        [/Passphrase to lock the agent with: $/, LOCK],
        [/Repeat it: $/, LOCK],
      ]);
      expect(lock.code, lock.output).toBe(0);
      expect(lock.output).not.toContain(LOCK);
      expectError(await sign(agent, 'tty-locked'), 6, 'is locked');
      const unlock = await onTerminal(['agent', 'unlock'], env, [
        [/Passphrase the agent was locked with: $/, LOCK],
      ]);
      expect(unlock.code, unlock.output).toBe(0);
      expect(unlock.output).toContain('the agent is unlocked');
      expectExit(await agent.tufa(['agent', 'stop']), 0);
    },
  );
});

describe('an agent that is not what it claims', () => {
  it('a signature that does not verify with the expected key is refused (exit 6), nothing published', async () => {
    // A process speaking the protocol at TUFA_AGENT_SOCK, in a private directory as tufa wants,
    // that claims to hold the targets key and answers every signature with garbage.
    const dir = mkdtempSync(join(TMP, 'impostor-'));
    const sock = join(dir, 'agent.sock');
    const keyid = readJson(sandbox.path('home', 'keys', `${KEYS[0]}.json`)).keyid as string;
    const server = createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const req = JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString('utf8'));
          buf = buf.subarray(4 + buf.readUInt32BE(0));
          const reply =
            req.op === 'status'
              ? {
                  pid: 1,
                  locked: false,
                  idleTimeoutSeconds: 600,
                  keys: [{ keyid, keytype: 'ed25519', scheme: 'ed25519', label: 'x', root: false }],
                }
              : { sig: '00'.repeat(64) };
          c.write(frame({ tufa_agent: 1, ok: true, ...reply }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      const before = newestVersion(repo.md, 'targets');
      const r = await sandbox.tufa(
        ['--json', 'sign', GUN, 'impostor', '--digest', digestOf('impostor'), '--size', '1'],
        {
          env: { TUFA_AGENT_SOCK: sock, TMPDIR: TMP },
        },
      );
      expectError(r, 6, 'does not verify with the key', 'tufa agent stop');
      expect(JSON.parse(r.stdout).error.code).toBe('AGENT_BAD_SIGNATURE');
      expect(newestVersion(repo.md, 'targets')).toBe(before);
    } finally {
      server.close();
    }
  });
});

describe('tufa agent start --foreground', () => {
  it('runs in the process, on the --socket given, until stopped', async () => {
    const sock = sandbox.path('fg', 'agent.sock');
    const child = spawn(process.execPath, [BIN, 'agent', 'start', '--foreground', '--socket', sock], {
      env: tufaEnv({ TUFA_HOME: sandbox.home }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const line = await new Promise<string>((r) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (out.includes('\n')) r(out);
      });
    });
    expect(line).toBe(`TUFA_AGENT_SOCK=${sock}; export TUFA_AGENT_SOCK\n`);
    expect(fileMode(dirname(sock))).toBe(0o700);
    const env = { env: { TUFA_AGENT_SOCK: sock } };
    const list = expectJson<{ agent: { pid: number } }>(await sandbox.tufa(['--json', 'agent', 'list'], env));
    expect(list.agent.pid).toBe(child.pid);
    expectExit(await sandbox.tufa(['agent', 'stop'], env), 0);
    expect(await exited).toBe(0);
    expect(listFiles(dirname(sock))).toEqual([]);
    // A stale TUFA_AGENT_SOCK: a warning, and the key files are used.
    const r = expectExit(
      await sandbox.tufa(['sign', GUN, 'stale', '--digest', digestOf('stale'), '--size', '1'], env),
      0,
    );
    expect(r.stderr).toMatch(/^Warning: no agent at .*; using the key files$/m);
  });

  it('refuses a --socket directory others may enter, and --socket without --foreground', async () => {
    const open = sandbox.path('open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    const r = await sandbox.tufa(['agent', 'start', '--foreground', '--socket', join(open, 'agent.sock')]);
    expectError(r, 6, 'has mode 755 (expected 700');
    expectError(
      await sandbox.tufa(['agent', 'start', '--socket', join(open, 'agent.sock')]),
      2,
      '--socket goes with --foreground',
    );
  });
});

const isRoot = process.getuid?.() === 0;
const hasSetpriv = (await runProcess('sh', ['-c', 'command -v setpriv'])).code === 0;
if ((!isRoot || !hasSetpriv) && process.env.CI === 'true') {
  throw new Error(
    'the socket test connects as another user: it needs root and setpriv (util-linux) under CI',
  );
}

describe('other users', () => {
  it.runIf(isRoot && hasSetpriv)('cannot connect to the socket (nobody, through setpriv)', async () => {
    // A temp directory the other user may pass through, so that only the agent's own directory
    // (0700) and socket (0600) stand in the way.
    const open = mkdtempSync(join(tmpdir(), 'tufa-agent-peer-'));
    chmodSync(open, 0o711);
    try {
      const agent = await startAgent([], open);
      const asNobody = () =>
        runProcess('setpriv', [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          '-e',
          "require('net').connect(process.argv[1]).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})",
          agent.sock,
        ]);
      expect((await asNobody()).stdout.trim()).toBe('EACCES');
      // The same probe gets through once the modes allow it: the refusal above is the modes'.
      chmodSync(dirname(agent.sock), 0o755);
      chmodSync(agent.sock, 0o666);
      expect((await asNobody()).stdout.trim()).toBe('CONNECTED');
      chmodSync(agent.sock, 0o600);
      chmodSync(dirname(agent.sock), 0o700);
      // And tufa itself will not talk to a socket whose directory others may enter.
      chmodSync(dirname(agent.sock), 0o755);
      const r = await agent.tufa(['agent', 'list']);
      expectError(r, 6, 'has mode 755 (expected 700');
      chmodSync(dirname(agent.sock), 0o700);
      expectExit(await agent.tufa(['agent', 'stop']), 0);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });
});
