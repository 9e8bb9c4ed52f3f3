/**
 * The CI examples in `examples/ci/` run end to end with the built `tufa`: the release script
 * signs and publishes with keys from the environment (through `tufa attach`), the verify
 * script and the GitHub Actions verify step pass only the signed digest, stop on anything else,
 * and send the bearer token from TUFA_AUTH_TOKEN without it ever being on a command line.
 * What needs a registry or a Docker engine (crane, docker buildx, docker pull) is not run: the
 * scripts take the digest and size from the environment instead, as documented.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, expectExit, expectJson, metadataDir, Sandbox } from './helpers/cli.js';
import {
  expectRan,
  failOpenFindings,
  type Ran,
  REPO,
  readRepoFile,
  run,
  shellEnv,
  showRan,
  tufaBinDir,
} from './helpers/snippets.js';

const LONG = 600_000;
const GUN = 'registry.example.com/team/app';
const SIGNED = digestOf('the release manifest');
const RELEASE_SIGN = join(REPO, 'examples', 'ci', 'release-sign.sh');
const VERIFY_PULL = join(REPO, 'examples', 'ci', 'verify-pull.sh');
const WORKFLOW = 'examples/ci/github-actions.yml';
/** Distinctive, so finding it in a process's command line is unambiguous. */
const TOKEN = 'tok-7f3a9c1e5b2d8640-bearer';

/** Every process's command line that contains `needle` (what `ps` shows any user). */
function commandLinesWith(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (cmdline.includes(needle)) found.push(cmdline.replaceAll('\0', ' '));
    } catch {
      // gone, or not readable: nothing to see
    }
  }
  return found;
}

/**
 * A private tufa server: serves a publish root only to `Authorization: Bearer TOKEN`. While it
 * answers a request the client is running, so that is when its command line is looked at.
 */
class PrivateServer {
  readonly seen: { path: string; authorised: boolean }[] = [];
  readonly exposed: string[] = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly root: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.exposed.push(...commandLinesWith(TOKEN));
      const authorised = req.headers.authorization === `Bearer ${TOKEN}`;
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      this.seen.push({ path, authorised });
      if (!authorised) {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
        return;
      }
      const file = resolve(this.root, `.${path}`);
      if (!file.startsWith(this.root + sep)) {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = readFileSync(file);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('examples/ci scripts and the workflow fail closed', () => {
  it.each([['examples/ci/release-sign.sh'], ['examples/ci/verify-pull.sh']])(
    '%s is a bash script that starts with set -euo pipefail',
    (file) => {
      const text = readRepoFile(file);
      expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
      expect(failOpenFindings(text, 'script')).toEqual([]);
    },
  );

  it('the workflow runs its steps with bash -eo pipefail and each multi-line step with set -euo pipefail', () => {
    const text = readRepoFile(WORKFLOW);
    expect(text).toMatch(/^defaults:\n {2}run:\n {4}shell: bash$/m);
    const blocks = runBlocks(text);
    expect(blocks.size).toBeGreaterThanOrEqual(3);
    for (const [name, script] of blocks) {
      expect(failOpenFindings(script, 'snippet'), name).toEqual([]);
    }
  });
});

/** `run: |` blocks of a workflow, by step name (one level of YAML, as the example is written). */
function runBlocks(yaml: string): Map<string, string> {
  const lines = yaml.split('\n');
  const blocks = new Map<string, string>();
  let step = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const name = /^\s*- name: (.+)$/.exec(line);
    if (name) step = name[1] as string;
    const m = /^(\s*)run: (\|)?(.*)$/.exec(line);
    if (!m) continue;
    if (!m[2]) {
      blocks.set(step, m[3] as string);
      continue;
    }
    const indent = (m[1] as string).length;
    const body: string[] = [];
    while (i + 1 < lines.length) {
      const next = lines[i + 1] as string;
      if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
      body.push(next.slice(indent + 2));
      i++;
    }
    blocks.set(step, body.join('\n'));
  }
  return blocks;
}

describe('examples/ci/release-sign.sh', () => {
  const sandbox = new Sandbox('tufa-ci-release-');
  const bin = tufaBinDir(sandbox.path('bin'));
  const pub = sandbox.path('pub');
  const tmp = sandbox.path('tmp');
  const secrets: Record<string, string> = {};
  const timestamp = () => readFileSync(join(metadataDir(pub, GUN), 'timestamp.json'));

  beforeAll(async () => {
    // As the release guide says: a key per online role, made the repository's keys, each
    // turned into a CI secret. The root key stays offline.
    for (const role of ['targets', 'snapshot', 'timestamp', 'stranger']) {
      expectExit(await sandbox.tufa(['key', 'generate', `app-${role}`, '--out', `./app-${role}.json`]), 0);
      secrets[role] = readFileSync(sandbox.path(`app-${role}.json`)).toString('base64');
    }
    const keys = ['targets', 'snapshot', 'timestamp'].flatMap((r) => [`--${r}-key`, `./app-${r}.json`]);
    expectExit(await sandbox.tufa(['init', GUN, '-p', pub, '--root-key-out', 'offline', ...keys]), 0);
    mkdirSync(tmp);
  }, LONG);
  afterAll(() => sandbox.cleanup());

  /** The pipeline job: a fresh machine, the keys and passphrase only in the environment. */
  function job(args: string[], extra: Record<string, string | undefined> = {}): Promise<Ran> {
    return run(RELEASE_SIGN, args, {
      cwd: sandbox.dir,
      env: shellEnv(bin, {
        TUFA_HOME: undefined,
        HOME: sandbox.path('job-home'),
        TMPDIR: tmp,
        PUBLISH_ROOT: pub,
        TUFA_PASSPHRASE: sandbox.env['TUFA_PASSPHRASE'],
        TUFA_TARGETS_KEY: secrets['targets'],
        TUFA_SNAPSHOT_KEY: secrets['snapshot'],
        TUFA_TIMESTAMP_KEY: secrets['timestamp'],
        ...extra,
      }),
    });
  }

  const verifyJson = async (tag: string) =>
    expectJson(
      await sandbox.tufa([
        '--json',
        'verify',
        '--server',
        pub,
        '--root',
        join(metadataDir(pub, GUN), '1.root.json'),
        `${GUN}:${tag}`,
      ]),
    );

  it(
    'attaches, signs with --size and publishes; leaves nothing behind in TMPDIR',
    async () => {
      const r = expectRan(await job([`${GUN}:1.4.2`, SIGNED, '--size', '528']), 0);
      expect(r.stderr).toMatch(/attached registry\.example\.com\/team\/app/);
      const v = await verifyJson('1.4.2');
      expect([v['digest'], v['size'], v['role']]).toEqual([SIGNED, 528, 'targets']);
      // The job's TUFA_HOME (its repository config naming the env: keys) is removed on exit.
      expect(readdirSync(tmp)).toEqual([]);
    },
    LONG,
  );

  it(
    'takes the size from MANIFEST_SIZE',
    async () => {
      expectRan(await job([`${GUN}:1.4.3`, SIGNED], { MANIFEST_SIZE: '1024' }), 0);
      expect((await verifyJson('1.4.3'))['size']).toBe(1024);
    },
    LONG,
  );

  it(
    'stops before signing when a secret holds a key root does not authorise (exit 6), publishing nothing',
    async () => {
      const before = timestamp();
      const r = expectRan(
        await job([`${GUN}:1.4.4`, SIGNED, '--size', '528'], { TUFA_TARGETS_KEY: secrets['stranger'] }),
        6,
      );
      expect(r.stderr).toMatch(/^Error: the key given for targets is not one of its keys in root/m);
      expect(timestamp()).toEqual(before);
      expect(readdirSync(tmp)).toEqual([]);
    },
    LONG,
  );

  it.each([
    ['no digest', [`${GUN}:1.4.5`]],
    ['--size without a value', [`${GUN}:1.4.5`, SIGNED, '--size']],
    ['an unknown option', [`${GUN}:1.4.5`, SIGNED, '--sise', '528']],
    ['a digest reference instead of a tag', [`${GUN}@${SIGNED}`, SIGNED, '--size', '528']],
  ])(
    'refuses %s with exit 2, publishing nothing',
    async (_what, args) => {
      const before = timestamp();
      expectRan(await job(args), 2);
      expect(timestamp()).toEqual(before);
    },
    LONG,
  );
});

describe('verifying with a bearer token: verify-pull.sh and the workflow step', () => {
  const publisher = new Sandbox('tufa-ci-verify-');
  const bin = tufaBinDir(publisher.path('bin'));
  const pub = publisher.path('pub');
  const server = new PrivateServer(pub);
  let root: string;
  let clients = 0;

  beforeAll(async () => {
    expectExit(await publisher.tufa(['init', GUN, '-p', pub, '--root-key-out', 'offline']), 0);
    expectExit(await publisher.tufa(['sign', `${GUN}:1.4.2`, '--digest', SIGNED, '--size', '528']), 0);
    root = join(metadataDir(pub, GUN), '1.root.json');
    await server.start();
  }, LONG);
  afterAll(async () => {
    await server.stop();
    publisher.cleanup();
  });

  /** A CI runner: its own TUFA_HOME (a fresh trust cache each time), the root pinned. */
  function runner(extra: Record<string, string | undefined>) {
    const home = publisher.path(`runner-${++clients}`);
    return shellEnv(bin, { TUFA_HOME: home, TUFA_PASSPHRASE: undefined, ...extra });
  }

  function verifyPull(extra: Record<string, string | undefined>): Promise<Ran> {
    return run(VERIFY_PULL, [`${GUN}:1.4.2`], {
      cwd: publisher.dir,
      env: runner({ TUFA_SERVER: server.url, TUFA_ROOT: root, TUFA_AUTH_TOKEN: TOKEN, PULL: 'no', ...extra }),
    });
  }

  it(
    'verify-pull.sh with DIGEST and PULL=no prints IMAGE@DIGEST, the token sent but never on a command line',
    async () => {
      const [seen, exposed] = [server.seen.length, server.exposed.length];
      const r = expectRan(await verifyPull({ DIGEST: SIGNED }), 0);
      expect(r.stdout).toBe(`${GUN}@${SIGNED}\n`);
      const requests = server.seen.slice(seen);
      expect(requests.length).toBeGreaterThan(0);
      expect(requests.every((q) => q.authorised)).toBe(true);
      expect(server.exposed.slice(exposed)).toEqual([]);
    },
    LONG,
  );

  it.each([
    ['a digest that is not the signed one', { DIGEST: digestOf('something else') }, 4],
    ['an empty DIGEST (tufa verify --digest "" would check none)', { DIGEST: '' }, 2],
    ['a DIGEST that is not sha256:HEX', { DIGEST: 'sha256:1234' }, 2],
    ['PULL other than yes or no', { DIGEST: SIGNED, PULL: 'maybe' }, 2],
  ])(
    'verify-pull.sh stops on %s, printing nothing to deploy',
    async (_what, extra, code) => {
      const r = expectRan(await verifyPull(extra), code);
      expect(r.stdout, showRan(r)).toBe('');
    },
    LONG,
  );

  it(
    'verify-pull.sh without the token is refused by the server and prints nothing',
    async () => {
      const r = await verifyPull({ DIGEST: SIGNED, TUFA_AUTH_TOKEN: undefined });
      expect(r.code, showRan(r)).not.toBe(0);
      expect(r.stdout).toBe('');
    },
    LONG,
  );

  describe('the "Verify with tufa" step of the workflow', () => {
    const step = () => {
      const text = readRepoFile(WORKFLOW);
      const block = runBlocks(text).get('Verify with tufa');
      expect(block, 'no "Verify with tufa" step').toBeDefined();
      // The secret reaches the step as TUFA_AUTH_TOKEN, which tufa reads itself.
      const stepText = text.slice(text.indexOf('- name: Verify with tufa'));
      expect(stepText).toMatch(/^\s+TUFA_AUTH_TOKEN: \$\{\{ secrets\.\w+ \}\}$/m);
      const file = publisher.path(`verify-step-${clients}.sh`);
      writeFileSync(file, block as string);
      return file;
    };

    /** As GitHub runs a step with `shell: bash`: bash --noprofile --norc -eo pipefail FILE. */
    function runStep(digest: string): Promise<Ran> {
      const cwd = publisher.path('checkout');
      mkdirSync(join(cwd, '.tufa'), { recursive: true });
      copyFileSync(root, join(cwd, '.tufa', 'root.json'));
      return run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', step()], {
        cwd,
        env: runner({
          IMAGE: GUN,
          TAG: '1.4.2',
          TUFA_SERVER: server.url,
          DIGEST: digest,
          TUFA_AUTH_TOKEN: TOKEN,
        }),
      });
    }

    it(
      'passes the signed digest, with the token off the command line',
      async () => {
        const [seen, exposed] = [server.seen.length, server.exposed.length];
        expectRan(await runStep(SIGNED), 0);
        expect(server.seen.length).toBeGreaterThan(seen);
        expect(server.exposed.slice(exposed)).toEqual([]);
      },
      LONG,
    );

    it.each([
      ['a digest that is not the signed one', digestOf('something else'), 4],
      ['an empty digest (the resolve step failed)', '', 2],
    ])(
      'fails on %s',
      async (_what, digest, code) => {
        expectRan(await runStep(digest), code);
      },
      LONG,
    );
  });
});
