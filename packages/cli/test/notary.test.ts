/**
 * `tufa notary verify|list|migrate` against a real notary-server (Debian's notary 0.7): a
 * collection built with the `notary` CLI (scripts/notary/make-collection.sh: root rotation, a
 * targets/releases delegation, names with `<`, `&` and non-ASCII characters), verified from the
 * server and from the notary client's trust directory, migrated into a tufa repository and
 * verified there with `tufa verify`. Tampering with the trust directory is detected.
 *
 * Runs the built CLI (npx tsc -b first). Skips when notary-server is missing, except under
 * CI=true.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const DIST = join(ROOT, 'packages/cli/dist');
const BIN = join(DIST, 'bin.js');
const HAVE_NOTARY = existsSync('/usr/bin/notary-server') && existsSync('/usr/bin/notary');
const GUN = 'example.com/migrate/app';
const CA = join(ROOT, 'test-vectors/tls/ca.pem');

if (!HAVE_NOTARY && process.env.CI === 'true') {
  throw new Error('notary-server and notary are required under CI=true (apt-get install -y notary)');
}

let work = '';
let serverUrl = '';
let serverPid = 0;
let tufaCli: string[] = [];
let notaryCli: string[] = [];
let env: NodeJS.ProcessEnv = {};

function run(argv: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, argv, {
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** `run` without blocking this process (a server in this process must keep answering). */
function runAsync(argv: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise) => {
    const child = spawn(process.execPath, argv, { env: { ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/**
 * An HTTP front for the notary-server that records every answer, and can be switched to replay
 * the answers it recorded earlier: a server (or anyone on the path) sending an older collection.
 */
class ReplayingProxy {
  readonly recorded = new Map<string, { status: number; body: Buffer }>();
  replay: Map<string, { status: number; body: Buffer }> | undefined;
  #server: Server | undefined;
  url = '';

  async start(upstream: string): Promise<void> {
    const ca = readFileSync(CA);
    this.#server = createServer((req, res) => {
      const path = req.url ?? '/';
      const answer = (a: { status: number; body: Buffer }) => {
        res.writeHead(a.status, { 'content-length': a.body.length });
        res.end(a.body);
      };
      if (this.replay) {
        answer(this.replay.get(path) ?? { status: 404, body: Buffer.alloc(0) });
        return;
      }
      httpsRequest(`${upstream}${path}`, { ca }, (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const a = { status: up.statusCode ?? 502, body: Buffer.concat(chunks) };
          this.recorded.set(path, a);
          answer(a);
        });
      })
        .on('error', () => answer({ status: 502, body: Buffer.alloc(0) }))
        .end();
    });
    await new Promise<void>((r) => this.#server?.listen(0, '127.0.0.1', r));
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

const tufa = (...args: string[]) => run([...tufaCli, ...args]);
const notary = (...args: string[]) => run([...notaryCli, ...args]);
const json = (r: { stdout: string }) => JSON.parse(r.stdout);

describe.skipIf(!HAVE_NOTARY)('tufa notary against notary-server', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tufa-notary-'));
    const started = spawnSync('bash', [join(ROOT, 'scripts/notary/start-server.sh'), join(work, 'server')], {
      encoding: 'utf8',
    });
    if (started.status !== 0) throw new Error(`notary-server did not start: ${started.stderr}`);
    [serverUrl, serverPid] = ((s) => [s[0] as string, Number(s[1])])(started.stdout.trim().split(' '));
    const made = spawnSync(
      'bash',
      [join(ROOT, 'scripts/notary/make-collection.sh'), serverUrl, join(work, 'client'), GUN],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`make-collection failed: ${made.stdout}${made.stderr}`);
    env = { ...process.env, TUFA_HOME: join(work, 'home'), CI: '' };
    tufaCli = [BIN];
    notaryCli = [BIN];
  }, 120_000);

  afterAll(() => {
    if (serverPid) process.kill(serverPid);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const trustDir = () => join(work, 'client/trust');

  it('verifies a tag from the server, anchored in the notary client trust directory', () => {
    const r = notary(
      '--json',
      'notary',
      'verify',
      '--server',
      serverUrl,
      '--ca',
      CA,
      '--trust-dir',
      trustDir(),
      `${GUN}:v1`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = json(r);
    // DCT: targets/releases signs v1 too (999 bytes), and wins over targets.
    expect(out).toMatchObject({ verified: true, tag: 'v1', size: 999, role: 'targets/releases' });
    expect(out.root.version).toBe(2);
  });

  it('verifies from the server with a pinned root key id, walking the root chain', () => {
    const root1 = JSON.parse(readFileSync(join(work, 'client/trust/tuf', GUN, 'metadata/root.json'), 'utf8'));
    const keyId = root1.signed.roles.root.keyids[0];
    const r = notary(
      '--json',
      'notary',
      'verify',
      '--server',
      serverUrl,
      '--ca',
      CA,
      '--root-key-id',
      keyId,
      GUN,
    );
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ verified: true, trustAnchor: 'pinned-key', tags: 5 });
    const tofu = notary(
      '--json',
      'notary',
      'verify',
      '--server',
      serverUrl,
      '--ca',
      CA,
      '--unsafe-tofu',
      GUN,
    );
    expect(json(tofu).rootVersions).toEqual([1, 2]);
    expect(tofu.stderr).toContain('--unsafe-tofu');
  });

  it('refuses a server without a trust anchor, and a wrong digest', () => {
    const r = notary('notary', 'verify', '--server', serverUrl, '--ca', CA, GUN);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: no trusted root/);
    const d = notary('notary', 'verify', '--trust-dir', trustDir(), `${GUN}:v1@sha256:${'0'.repeat(64)}`);
    expect(d.code).toBe(4);
    const missing = notary('notary', 'verify', '--trust-dir', trustDir(), `${GUN}:nope`);
    expect(missing.code).toBe(5);
  });

  it('lists tags like notary list (DCT view and every role), with odd names intact', () => {
    const r = notary('notary', 'list', '--trust-dir', trustDir(), GUN);
    expect(r.code).toBe(0);
    const expected = readFileSync(join(work, 'client/expected.txt'), 'utf8');
    for (const line of expected.trim().split('\n').slice(2)) {
      const [name, digest, size, role] = line.split(/\s{2,}/);
      if (name === 'v1') continue; // notary list shows targets' v1; Docker resolves targets/releases
      expect(r.stdout).toMatch(
        new RegExp(
          `^${name?.replace(/[.*+?^${}()|[\]\\<>&]/g, '\\$&')}\\s+${digest}\\s+${size}\\s+${role}$`,
          'm',
        ),
      );
    }
    const all = json(
      notary(
        '--json',
        'notary',
        'list',
        '--all-roles',
        '--server',
        serverUrl,
        '--ca',
        CA,
        '--trust-dir',
        trustDir(),
        GUN,
      ),
    );
    expect(
      all.tags.filter((t: { tag: string }) => t.tag === 'v1').map((t: { role: string }) => t.role),
    ).toEqual(['targets', 'targets/releases']);
    expect(all.tags.map((t: { tag: string }) => t.tag)).toContain('ünïcode-✓');
  });

  it('judges expiry at --as-of', () => {
    const r = notary('notary', 'verify', '--trust-dir', trustDir(), '--as-of', '2031-01-01T00:00:00Z', GUN);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/expired/);
    expect(notary('notary', 'verify', '--trust-dir', trustDir(), '--as-of', 'yesterday', GUN).code).toBe(2);
  });

  it('detects tampering with the trust directory', () => {
    const copy = join(work, 'tampered');
    cpSync(trustDir(), copy, { recursive: true });
    const f = join(copy, 'tuf', GUN, 'metadata/targets.json');
    writeFileSync(f, readFileSync(f, 'utf8').replace('"length":1234', '"length":4321'));
    const r = notary('notary', 'list', '--trust-dir', copy, GUN);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: targets\.json: expected \d+ bytes|sha256 expected/m);
    const rel = join(copy, 'tuf', GUN, 'metadata/targets/releases.json');
    cpSync(join(trustDir(), 'tuf', GUN, 'metadata/targets.json'), f);
    writeFileSync(rel, readFileSync(rel, 'utf8').replace('"length":999', '"length":998'));
    const r2 = notary('--json', 'notary', 'verify', '--trust-dir', copy, GUN);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain('targets/releases');
  });

  it('migrates into a tufa repository; tufa verify then accepts the tags', () => {
    const publish = join(work, 'publish');
    // --dry-run works before tufa init: planned against a new, empty repository.
    const early = notary('--json', 'notary', 'migrate', GUN, '--trust-dir', trustDir(), '--dry-run');
    expect(early.code).toBe(0);
    expect(json(early)).toMatchObject({ dryRun: true, versions: {} });
    expect(json(early).imported).toHaveLength(5);
    const earlyText = notary('notary', 'migrate', GUN, '--trust-dir', trustDir(), '--dry-run');
    expect(earlyText.stderr).toContain(
      `${GUN} is not set up in tufa yet: planned against a new, empty repository`,
    );
    expect(earlyText.stdout).toContain('would import 5 tag(s)');
    const init = tufa(
      'init',
      GUN,
      '--publish-root',
      publish,
      '--root-key-out',
      join(work, 'offline'),
      '--unencrypted',
    );
    expect(init.stderr + init.stdout).not.toMatch(/^Error/m);
    expect(init.code).toBe(0);
    const dry = notary('--json', 'notary', 'migrate', GUN, '--trust-dir', trustDir(), '--dry-run');
    expect(dry.code).toBe(0);
    expect(json(dry).imported).toHaveLength(5);
    const m = notary(
      '--json',
      'notary',
      'migrate',
      GUN,
      '--server',
      serverUrl,
      '--ca',
      CA,
      '--trust-dir',
      trustDir(),
    );
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    const out = json(m);
    expect(out.imported.map((i: { tag: string; role: string }) => `${i.tag} ${i.role}`).sort()).toEqual([
      'a<b&c> targets',
      'after-rotation targets',
      'release-1 targets/releases',
      'v1 targets/releases',
      'ünïcode-✓ targets',
    ]);
    const rootFile = join(publish, GUN, 'metadata/1.root.json');
    for (const [tag, size] of [
      ['v1', 999],
      ['a<b&c>', 1234],
      ['ünïcode-✓', 42],
    ] as const) {
      const v = tufa('--json', 'verify', '--server', publish, '--root', rootFile, `${GUN}:${tag}`);
      expect(v.stderr).toBe('');
      expect(v.code).toBe(0);
      const got = json(v);
      expect(got.size).toBe(size);
      expect(got.custom.notary).toMatchObject({
        source: serverUrl,
        rootKeyIds: out.root.keyIds,
        role: tag === 'v1' ? 'targets/releases' : 'targets',
      });
      expect(got.custom.notary.asOf).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    // Running it again changes nothing.
    const again = json(notary('--json', 'notary', 'migrate', GUN, '--trust-dir', trustDir()));
    expect([again.imported.length, again.unchanged]).toEqual([0, 5]);
  });

  it('with --role-map, every tag resolves in tufa to the digest Docker Content Trust resolves', () => {
    // v1 is signed in targets and, with another digest, in targets/releases: DCT resolves the
    // targets/releases copy. A TUF client searches targets first (spec 5.6.7), so importing both
    // copies live would resolve v1 to the targets digest.
    const home = { TUFA_HOME: join(work, 'home-rolemap') };
    const publish = join(work, 'publish-rolemap');
    const t = (...args: string[]) => run([...tufaCli, ...args], home);
    expect(
      t('init', GUN, '--publish-root', publish, '--root-key-out', join(work, 'offline2'), '--unencrypted')
        .code,
    ).toBe(0);
    expect(t('key', 'generate', 'rel', '--unencrypted').code).toBe(0);
    expect(t('delegation', 'add', GUN, 'releases', '--key', 'rel').code).toBe(0);
    const m = t(
      '--json',
      'notary',
      'migrate',
      GUN,
      '--trust-dir',
      trustDir(),
      '--role-map',
      'targets/releases=releases',
    );
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    const dct = json(t('--json', 'notary', 'list', '--trust-dir', trustDir(), GUN)).tags as {
      tag: string;
      digest: string;
      size: number;
      role: string;
    }[];
    expect(dct.map((d) => d.tag).sort()).toEqual([
      'a<b&c>',
      'after-rotation',
      'release-1',
      'v1',
      'ünïcode-✓',
    ]);
    const all = json(t('--json', 'notary', 'list', '--all-roles', '--trust-dir', trustDir(), GUN)).tags as {
      tag: string;
      digest: string;
      size: number;
      role: string;
    }[];
    const shadowedV1 = all.find((x) => x.tag === 'v1' && x.role === 'targets');
    expect(shadowedV1?.digest).not.toBe(dct.find((d) => d.tag === 'v1')?.digest);
    const rootFile = join(publish, GUN, 'metadata/1.root.json');
    for (const d of dct) {
      const v = t('--json', 'verify', '--server', publish, '--root', rootFile, `${GUN}:${d.tag}`);
      expect(v.stderr).toBe('');
      expect(v.code).toBe(0);
      const got = json(v);
      expect([d.tag, got.digest, got.size]).toEqual([d.tag, d.digest, d.size]);
      expect(got.role).toBe(d.role === 'targets/releases' ? 'releases' : 'targets');
      expect(got.custom.notary.role).toBe(d.role);
    }
    // The copy DCT never resolves is kept as provenance, not as a live target.
    const v1 = json(t('--json', 'verify', '--server', publish, '--root', rootFile, `${GUN}:v1`));
    expect(v1.custom.notary.shadowed).toEqual([
      { role: 'targets', digest: shadowedV1?.digest, length: shadowedV1?.size },
    ]);
    // The publisher's view of every role: no live copy of the shadowed digest anywhere.
    const live = json(t('--json', 'list', GUN)).tags as { tag: string; digest: string }[];
    expect(live.filter((x) => x.tag === 'v1').map((x) => x.digest)).toEqual([
      dct.find((d) => d.tag === 'v1')?.digest,
    ]);

    // A repository where targets signs the copy Docker never resolved (as an earlier migration
    // left it): migrate refuses v1 until --replace removes that copy.
    const wrong = shadowedV1 as { digest: string; size: number };
    // (--force: tufa itself refuses to shadow a delegated role's tag from targets.)
    const signed = t('sign', `${GUN}:v1`, '--digest', wrong.digest, '--size', String(wrong.size), '--force');
    expect(signed.stderr + signed.stdout).not.toMatch(/^Error/m);
    const resolvesWrong = json(t('--json', 'verify', '--server', publish, '--root', rootFile, `${GUN}:v1`));
    expect(resolvesWrong.digest).toBe(wrong.digest);
    const again = json(
      t(
        '--json',
        'notary',
        'migrate',
        GUN,
        '--trust-dir',
        trustDir(),
        '--role-map',
        'targets/releases=releases',
      ),
    );
    expect(again.refused).toEqual([
      {
        tag: 'v1',
        role: 'targets/releases',
        reason: expect.stringMatching(
          /resolve it to .* in targets, which it searches before releases \(use --replace/,
        ),
      },
    ]);
    const replaced = json(
      t(
        '--json',
        'notary',
        'migrate',
        GUN,
        '--trust-dir',
        trustDir(),
        '--role-map',
        'targets/releases=releases',
        '--replace',
      ),
    );
    expect(replaced.removed).toEqual([{ tag: 'v1', tufaRole: 'targets', digest: wrong.digest }]);
    const fixed = json(t('--json', 'verify', '--server', publish, '--root', rootFile, `${GUN}:v1`));
    expect([fixed.digest, fixed.role]).toEqual([dct.find((d) => d.tag === 'v1')?.digest, 'releases']);
  });

  it('refuses an older collection after a newer one was verified from the same server', async () => {
    // A GUN of its own: the collection is changed (one more publish) during the test.
    const gun2 = 'example.com/replay/app';
    const client2 = join(work, 'client-replay');
    const made = spawnSync(
      'bash',
      [join(ROOT, 'scripts/notary/make-collection.sh'), serverUrl, client2, gun2],
      { encoding: 'utf8' },
    );
    expect(made.status).toBe(0);
    const proxy = new ReplayingProxy();
    await proxy.start(serverUrl);
    try {
      const home = join(work, 'home-replay');
      const verify = (extra: NodeJS.ProcessEnv = {}) =>
        runAsync(
          [
            ...tufaCli,
            '--json',
            'notary',
            'verify',
            '--server',
            proxy.url,
            '--trust-dir',
            join(client2, 'trust'),
            gun2,
          ],
          { TUFA_HOME: home, ...extra },
        );
      const first = await verify();
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const old = new Map(proxy.recorded);
      const oldVersions = json(first).roles as { role: string; version: number }[];
      // The client's trust directory as it is now: an archive of the older collection.
      const archive = join(work, 'archive-replay');
      cpSync(join(client2, 'trust'), archive, { recursive: true });

      // The publisher signs one more tag: every signed role but root moves on.
      const pub = spawnSync(
        'bash',
        [
          '-c',
          `notary -c "$1/config.json" addhash "$2" replay-new 3 --sha256 ${'ab'.repeat(32)} && notary -c "$1/config.json" publish "$2"`,
          'publish',
          client2,
          gun2,
        ],
        {
          encoding: 'utf8',
          env: {
            ...process.env,
            NOTARY_ROOT_PASSPHRASE: 'test-only-root',
            NOTARY_TARGETS_PASSPHRASE: 'test-only-targets',
            NOTARY_SNAPSHOT_PASSPHRASE: 'test-only-snapshot',
          },
        },
      );
      expect(pub.stderr + pub.stdout).not.toMatch(/error/i);
      expect(pub.status).toBe(0);
      const second = await verify();
      expect(second.code).toBe(0);
      const newVersions = json(second).roles as { role: string; version: number }[];
      const v = (list: { role: string; version: number }[], role: string) =>
        list.find((r) => r.role === role)?.version ?? 0;
      expect(v(newVersions, 'timestamp')).toBeGreaterThan(v(oldVersions, 'timestamp'));
      expect(v(newVersions, 'targets')).toBeGreaterThan(v(oldVersions, 'targets'));

      // What was verified is recorded under $TUFA_HOME, private to the user.
      const stateFiles = spawnSync('find', [join(home, 'trust'), '-name', 'versions.json'], {
        encoding: 'utf8',
      })
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
      expect(stateFiles).toHaveLength(1);
      const stateFile = stateFiles[0] as string;
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(stateFile, '..')).mode & 0o777).toBe(0o700);
      const recorded = readFileSync(stateFile, 'utf8');

      // The server now replays the older collection: still validly signed and not expired.
      proxy.replay = old;
      const replayed = await verify();
      expect(replayed.code).toBe(3);
      expect(replayed.stderr).toMatch(
        new RegExp(
          `^Error: timestamp version ${v(oldVersions, 'timestamp')} is older than version ${v(newVersions, 'timestamp')}`,
          'm',
        ),
      );
      expect(replayed.stderr).toMatch(/^Hint: /m);
      expect(readFileSync(stateFile, 'utf8')).toBe(recorded);

      // The same replay on a machine that verified nothing before is accepted: the attack is
      // only visible against what was recorded.
      const fresh = await verify({ TUFA_HOME: join(work, 'home-replay-fresh') });
      expect(fresh.code).toBe(0);

      // The live server again: accepted, nothing was lowered.
      proxy.replay = undefined;
      expect((await verify()).code).toBe(0);

      // An archive is the user's own data: verified as it is, whatever was recorded.
      const fromArchive = await runAsync([...tufaCli, 'notary', 'verify', '--trust-dir', archive, gun2], {
        TUFA_HOME: home,
      });
      expect(fromArchive.stderr).toBe('');
      expect(fromArchive.code).toBe(0);

      // A record that is not one is refused, not ignored.
      writeFileSync(stateFile, readFileSync(stateFile, 'utf8').replace('"version": ', '"version": -'));
      const corrupt = await verify();
      expect(corrupt.code).toBe(3);
      expect(corrupt.stderr).toMatch(/^Error: .*versions\.json: not a Notary version record/m);
      expect(corrupt.stderr).toMatch(/^Hint: restore .*versions\.json from a backup/m);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('refuses to migrate from a tampered trust directory', () => {
    const copy = join(work, 'tampered2');
    cpSync(trustDir(), copy, { recursive: true });
    const f = join(copy, 'tuf', GUN, 'metadata/snapshot.json');
    writeFileSync(f, readFileSync(f, 'utf8').replace('"version":', '"version":1'));
    const r = notary('notary', 'migrate', 'example.com/migrate/app', '--trust-dir', copy);
    expect(r.code).toBe(3);
  });
});
