/**
 * Key rotation (`tufa key rotate`) and the offline root ceremony (`tufa root sign-request`,
 * `root sign`, `root merge`, `status --request`, `root publish`), each followed by a client that
 * had cached the old root.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectError,
  expectExit,
  expectJson,
  fileMode,
  newestVersion,
  publisher,
  readJson,
  Sandbox,
  snapshotTree,
  trustMetadataDirs,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-rotation-');
const GUN = 'ghcr.io/acme/tool';
const SLUG = 'ghcr-io-acme-tool';
const repo = publisher(sandbox, GUN);
const { pub: PUB, md: MD } = repo;
const ROOT_KEY = sandbox.path('offline', `root-${SLUG}.json`);
const CLIENT = sandbox.path('client');
const configPath = sandbox.path('home', 'repos', 'ghcr%2Eio%2Facme%2Ftool', 'config.json');

const client = sandbox.client(CLIENT).tufa;

async function expectClientVerifies(tag: string): Promise<void> {
  const r = await client(['verify', '--server', PUB, `${GUN}:${tag}`]);
  expect(expectExit(r, 0).stdout).toContain(`${GUN}:${tag} ${digestOf(tag)}`);
}

function cachedRootVersion(): number {
  const [dir] = trustMetadataDirs(CLIENT);
  return readJson(join(dir as string, 'root.json')).signed.version;
}

function publishedRoot() {
  return readJson(join(MD, 'root.json')).signed;
}

beforeAll(async () => {
  await repo.init();
  expectExit(await sandbox.tufa(['sign', `${GUN}:v1`, '--digest', digestOf('v1'), '--size', '1']), 0);
  expectExit(await client(['verify', '--server', PUB, '--root', join(MD, '1.root.json'), `${GUN}:v1`]), 0);
});
afterAll(() => sandbox.cleanup());

describe('tufa key rotate GUN targets', () => {
  it('needs a root key (exit 2 with a Hint), and changes nothing without one', async () => {
    const before = snapshotTree(MD);
    const r = await sandbox.tufa(['key', 'rotate', GUN, 'targets']);
    expectError(r, 2, 'rotating targets changes root', `tufa key rotate ${GUN} targets --root-key`);
    expect(snapshotTree(MD)).toEqual(before);
  });

  it('a wrong root key passphrase is exit 6', async () => {
    const r = await sandbox.tufa(['key', 'rotate', GUN, 'timestamp', '--root-key', ROOT_KEY], {
      env: { TUFA_PASSPHRASE_ROOT_GHCR_IO_ACME_TOOL: 'not-the-root-passphrase' },
    });
    expectError(r, 6, 'wrong passphrase');
    expect(newestVersion(MD, 'root')).toBe(1);
  });

  it('--root-key: a new targets key, root v2 published, config updated; old clients still verify', async () => {
    const oldTargets = publishedRoot().roles.targets.keyids as string[];
    const r = await sandbox.tufa(['--json', 'key', 'rotate', GUN, 'targets', '--root-key', ROOT_KEY]);
    const v = expectJson(r);
    expect(v).toMatchObject({ gun: GUN, role: 'targets', removed: oldTargets });
    expect(v.added).toMatch(/^[0-9a-f]{64}$/);
    expect((v.versions as Record<string, number>).root).toBe(2);
    expect(v.written).toEqual(expect.arrayContaining(['metadata/2.root.json', 'metadata/timestamp.json']));
    const root = publishedRoot();
    expect(root.version).toBe(2);
    expect(root.roles.targets.keyids).toEqual([v.added]);
    const newKeyFile = (v.key as string).replace(/^file:/, '');
    expect(newKeyFile.startsWith(sandbox.path('home', 'keys'))).toBe(true);
    expect(readJson(newKeyFile).keyid).toBe(v.added);
    expect(fileMode(newKeyFile)).toBe(0o600);
    expect(readJson(configPath).keys.targets).toBe(v.key);

    await expectClientVerifies('v1');
    expect(cachedRootVersion()).toBe(2);
    // Signing now uses the new key, and clients accept it.
    expectExit(await sandbox.tufa(['sign', `${GUN}:v2`, '--digest', digestOf('v2'), '--size', '2']), 0);
    const targets = readJson(join(MD, `${newestVersion(MD, 'targets')}.targets.json`));
    expect(targets.signatures.map((s: { keyid: string }) => s.keyid)).toEqual([v.added]);
    await expectClientVerifies('v2');
  });

  it('text output names the role and the new key', async () => {
    const r = expectExit(await sandbox.tufa(['key', 'rotate', GUN, 'snapshot', '--root-key', ROOT_KEY]), 0);
    const keyid = publishedRoot().roles.snapshot.keyids[0];
    expect(r.stdout).toBe(`rotated snapshot of ${GUN}: new key ${keyid} (removed 1)\n`);
    await expectClientVerifies('v2');
  });
});

describe('tufa key rotate GUN root', () => {
  let newRootKey: string;

  it('without --new-root-key-out: exit 2 with a Hint', async () => {
    const r = await sandbox.tufa(['key', 'rotate', GUN, 'root', '--root-key', ROOT_KEY]);
    expectError(r, 2, 'a new root key must go offline', '--new-root-key-out');
  });

  it('--root-key OLD --new-root-key-out DIR: new root signed by old and new; clients follow', async () => {
    const before = publishedRoot();
    const oldRootKeyid = readJson(ROOT_KEY).keyid;
    const r = await sandbox.tufa([
      'key',
      'rotate',
      GUN,
      'root',
      '--root-key',
      ROOT_KEY,
      '--new-root-key-out',
      'offline-new',
    ]);
    expectExit(r, 0);
    const files = readdirSync(sandbox.path('offline-new'));
    expect(files).toHaveLength(1);
    newRootKey = sandbox.path('offline-new', files[0] as string);
    expect(fileMode(newRootKey)).toBe(0o600);
    expect(readFileSync(newRootKey, 'utf8')).not.toContain('PRIVATE KEY');
    const newKeyid = readJson(newRootKey).keyid;
    expect(r.stdout).toBe(`rotated root of ${GUN}: new key ${newKeyid} (removed 1)\n`);
    // The new root key is not kept in $TUFA_HOME.
    for (const f of readdirSync(sandbox.path('home', 'keys'))) {
      expect(readJson(sandbox.path('home', 'keys', f)).keyid).not.toBe(newKeyid);
    }
    const v = before.version + 1;
    const root = readJson(join(MD, `${v}.root.json`));
    expect(root.signed.roles.root).toEqual({ keyids: [newKeyid], threshold: 1 });
    expect(root.signatures.map((s: { keyid: string }) => s.keyid).sort()).toEqual(
      [oldRootKeyid, newKeyid].sort(),
    );

    await expectClientVerifies('v2');
    expect(cachedRootVersion()).toBe(v);
    // The old root is still part of this client's chain of trust.
    expectExit(await client(['verify', '--server', PUB, '--root', join(MD, '1.root.json'), `${GUN}:v1`]), 0);
    // A client that starts from 1.root.json walks the whole chain.
    const fresh = await sandbox.tufa(
      ['verify', '--server', PUB, '--root', join(MD, '1.root.json'), `${GUN}:v2`],
      { env: { TUFA_HOME: sandbox.path('client-fresh') } },
    );
    expectExit(fresh, 0);
  });

  it('the old root key can no longer change root', async () => {
    // Too few root keys given is the publisher's mistake (exit 2), not untrusted input (3).
    const r = await sandbox.tufa(['key', 'rotate', GUN, 'timestamp', '--root-key', ROOT_KEY]);
    expectExit(r, 2);
    expect(r.stderr).toMatch(
      /^Error: not enough signatures to publish: root \(\d+ of \d+ needed, unsigned: [0-9a-f]{64}\): the keys that would sign were not given$/m,
    );
  });

  describe('offline ceremony: root sign-request → sign ×2 → merge → status --request → publish', () => {
    const REQ = sandbox.path('ceremony', 'request.json');
    const A = sandbox.path('ceremony', 'copy-a.json');
    const B = sandbox.path('ceremony', 'copy-b.json');
    const B_SIGNED = sandbox.path('ceremony', 'copy-b-signed.json');
    const MERGED = sandbox.path('ceremony', 'merged.json');
    const EXTRA = sandbox.path('offline-2', 'extra-root.json');
    let version: number;

    it('sign-request --add-key --threshold writes an unsigned request', async () => {
      expectExit(await sandbox.tufa(['key', 'generate', 'extra-root', '--out', EXTRA]), 0);
      mkdirSync(sandbox.path('ceremony'));
      version = publishedRoot().version + 1;
      const r = await sandbox.tufa([
        'root',
        'sign-request',
        GUN,
        '-o',
        REQ,
        '--add-key',
        EXTRA,
        '--threshold',
        '2',
      ]);
      expectExit(r, 0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`wrote ${REQ}`);
      expect(lines[1]).toMatch(
        new RegExp(`^root version ${version} {2}\\(sha256 of what is signed: [0-9a-f]{64}\\)$`),
      );
      expect(r.stdout).toContain(`    root: add key ${readJson(EXTRA).keyid} (ed25519)`);
      expect(r.stdout).toContain('    root: threshold 1 -> 2');
      // What is signed is read from the metadata: the new key and threshold, whatever the file claims.
      expect(r.stdout).toContain(`root: threshold 2 of `);
      expect(lines.at(-1)).toBe('  more signatures needed');
      expect(existsSync(REQ)).toBe(true);
      // Nothing is published by a request.
      expect(publishedRoot().version).toBe(version - 1);
    });

    it('root sign on two separate copies, one in place and one with -o', async () => {
      copyFileSync(REQ, A);
      copyFileSync(REQ, B);
      const current = readJson(newRootKey).keyid;
      const extra = readJson(EXTRA).keyid;
      const a = expectExit(await sandbox.tufa(['root', 'sign', A, '--key', newRootKey, '--yes']), 0);
      expect(a.stdout.split('\n')[0]).toBe(`signed with ${current}; wrote ${A}`);
      const b = expectJson(
        await sandbox.tufa(['--json', 'root', 'sign', B, '--key', EXTRA, '-o', B_SIGNED, '--yes']),
      );
      expect(b).toMatchObject({ request: B_SIGNED, role: 'root', version, complete: false });
      expect(readFileSync(B, 'utf8')).toBe(readFileSync(REQ, 'utf8'));
      const thresholds = b.thresholds as {
        by: string;
        threshold: number;
        signed: string[];
        missing: string[];
        met: boolean;
      }[];
      expect(thresholds.at(-1)).toMatchObject({
        threshold: 2,
        signed: [extra],
        missing: [current],
        met: false,
      });
    });

    it('a wrong passphrase for root sign is exit 6 and the copy is unchanged', async () => {
      const before = readFileSync(A, 'utf8');
      const r = await sandbox.tufa(['root', 'sign', A, '--key', EXTRA, '--yes'], {
        env: { TUFA_PASSPHRASE: 'not-the-passphrase-x' },
      });
      expectError(r, 6, 'wrong passphrase');
      expect(readFileSync(A, 'utf8')).toBe(before);
    });

    it('publish with too few signatures is exit 3 with a Hint, and publishes nothing', async () => {
      const before = snapshotTree(MD);
      const r = await sandbox.tufa(['root', 'publish', GUN, A]);
      expectError(r, 3, `${A} does not have enough signatures yet`, `tufa status ${GUN} --request ${A}`);
      expect(snapshotTree(MD)).toEqual(before);
    });

    it('merge combines the signatures', async () => {
      const r = expectExit(await sandbox.tufa(['root', 'merge', A, B_SIGNED, '-o', MERGED]), 0);
      expect(r.stdout.split('\n')[0]).toBe(`merged 2 request(s) into ${MERGED}`);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('  ready to publish');
    });

    it('status GUN --request shows who signed (text and JSON)', async () => {
      const [text, json] = await Promise.all([
        sandbox.tufa(['status', GUN, '--request', MERGED]),
        sandbox.tufa(['--json', 'status', GUN, '--request', MERGED]),
      ]);
      expectExit(text, 0);
      expect(text.stdout).toMatch(new RegExp(`^root version ${version} `));
      expect(text.stdout).toMatch(new RegExp(`root version ${version} \\(new\\): 2/2 met`));
      expect(text.stdout).toContain('ready to publish');
      const v = expectJson(json);
      expect(v).toMatchObject({ request: MERGED, role: 'root', version, complete: true });
      expect(v.signedSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(v.claimedChanges).toEqual(expect.arrayContaining(['root: threshold 1 -> 2']));
      expect((v.signing as string[]).join('\n')).toContain('root: threshold 2 of ');
      for (const t of v.thresholds as { met: boolean; missing: string[] }[]) {
        expect(t.met).toBe(true);
        expect(t.missing).toEqual([]);
      }
      const partial = expectJson(await sandbox.tufa(['--json', 'status', GUN, '--request', A]));
      expect(partial.complete).toBe(false);
    });

    // BUG: `tufa status --request FILE` needs a GUN it then ignores: status is declared with a
    // required `<gun>` in main.ts, so
    //   tufa status --request merged.json
    //   → exit 2, `Error: missing required argument 'gun'`.
    // Expected: exit 0 with the request summary (the request names what it signs), or at least
    // an optional `[gun]`.
    it('status --request FILE works without a GUN', async () => {
      const r = await sandbox.tufa(['status', '--request', MERGED]);
      expect(expectExit(r, 0).stdout).toContain('ready to publish');
    });

    it('a missing request file is exit 5', async () => {
      expectError(
        await sandbox.tufa(['status', GUN, '--request', 'nope.json']),
        5,
        'cannot read the signing request nope.json: no such file or directory',
      );
    });

    it('publish: the new root goes out; a client holding the old root verifies', async () => {
      const r = expectExit(await sandbox.tufa(['root', 'publish', GUN, MERGED]), 0);
      expect(r.stdout).toBe(`published root version ${version} of ${GUN}\n`);
      const root = readJson(join(MD, `${version}.root.json`));
      expect(root.signed.roles.root.threshold).toBe(2);
      expect(root.signed.roles.root.keyids.sort()).toEqual(
        [readJson(newRootKey).keyid, readJson(EXTRA).keyid].sort(),
      );
      expect(readFileSync(join(MD, 'root.json'), 'utf8')).toBe(
        readFileSync(join(MD, `${version}.root.json`), 'utf8'),
      );

      expect(cachedRootVersion()).toBe(version - 1);
      // A --root newer than the cache is accepted once the update has walked the chain to it.
      const newer = await client([
        'verify',
        '--server',
        PUB,
        '--root',
        join(MD, `${version}.root.json`),
        `${GUN}:v2`,
      ]);
      expectExit(newer, 0);
      expect(cachedRootVersion()).toBe(version);
      await expectClientVerifies('v2');
      const status = expectJson(await sandbox.tufa(['--json', 'status', GUN]));
      expect((status.roles as { role: string; threshold: number; signed: string[] }[])[0]).toMatchObject({
        role: 'root',
        version,
        threshold: 2,
        verified: true,
      });
      // Publishing the same request again: stale, so exit 2 with what to do (retrying cannot help).
      expectError(
        await sandbox.tufa(['root', 'publish', GUN, MERGED]),
        2,
        `the signed root is version ${version}, but the repository now needs version ${version + 1}: create a new signing request`,
      );
      // Everyday signing still works after the ceremony.
      expectExit(await sandbox.tufa(['sign', `${GUN}:v3`, '--digest', digestOf('v3'), '--size', '3']), 0);
      await expectClientVerifies('v3');
    });
  });
});

describe('tufa key rotate GUN DELEGATED-ROLE', () => {
  it('rotates a delegated role (no root key needed); its tags still verify', async () => {
    expectExit(await sandbox.tufa(['key', 'generate', 'ci-bot']), 0);
    expectExit(await sandbox.tufa(['delegation', 'add', GUN, 'ci', '--key', 'ci-bot', '--paths', 'ci-*']), 0);
    expectExit(
      await sandbox.tufa([
        'sign',
        `${GUN}:ci-1`,
        '--digest',
        digestOf('ci-1'),
        '--size',
        '4',
        '--role',
        'ci',
      ]),
      0,
    );
    await expectClientVerifies('ci-1');
    const v = expectJson(await sandbox.tufa(['--json', 'key', 'rotate', GUN, 'ci']));
    expect(v).toMatchObject({
      role: 'ci',
      removed: [readJson(sandbox.path('home', 'keys', 'ci-bot.json')).keyid],
    });
    expect(readJson(configPath).delegations.ci).toBe(v.key);
    await expectClientVerifies('ci-1');
    expectExit(
      await sandbox.tufa([
        'sign',
        `${GUN}:ci-2`,
        '--digest',
        digestOf('ci-2'),
        '--size',
        '4',
        '--role',
        'ci',
      ]),
      0,
    );
    await expectClientVerifies('ci-2');
    expectError(
      await sandbox.tufa(['key', 'rotate', GUN, 'nobody']),
      2,
      'targets does not delegate to nobody',
    );
  });
});
