/**
 * Attacks on the publisher through its storage (ADR 0032): whoever controls where a repository is
 * published — a registry, a trust server holding the online keys, a shared directory — rewrites
 * published metadata and waits for the publisher's next `tufa sign`, hoping it signs the forged
 * entries too. Every one must fail with exit 3 and write nothing. A directory stands for any
 * storage here: the CLI reads all of them through the same core path.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '@tufa/core';
import { generateKeyPair, type PrivateKeySigner } from '@tufa/core/node';
import { beforeEach, describe, expect, it } from 'vitest';
import { digestOf, expectError, expectExit, publisher, readJson, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-publisher-attacks-');
const GUN = 'registry.example.com/acme/web';
const repo = publisher(sandbox, GUN);
const MD = repo.md;
const PIN = join(sandbox.path('home'), 'repos', encodeURIComponent(GUN).replace(/\./g, '%2E'), 'root.json');
let n = 0;

// biome-ignore lint/suspicious/noExplicitAny: metadata as the attacker edits it, as JSON
type Json = Record<string, any>;

async function signedFile(path: string, body: Json, signers: PrivateKeySigner[]): Promise<void> {
  const signatures = [];
  for (const s of signers) signatures.push((await s.sign(canonicalBytes(body))).toJSON());
  writeFileSync(join(MD, path), JSON.stringify({ signatures, signed: body }));
}

const sign = (tag: string) =>
  sandbox.tufa(['sign', `${GUN}:${tag}`, '--digest', digestOf(tag), '--size', String(++n)]);
const files = () =>
  readdirSync(MD)
    .sort()
    .map((f) => [f, readFileSync(join(MD, f), 'latin1')]);
const current = (role: string) => readJson(join(MD, 'timestamp.json')).signed.meta[`${role}.json`]?.version;

beforeEach(async () => {
  rmSync(sandbox.path('pub'), { recursive: true, force: true });
  rmSync(sandbox.path('home'), { recursive: true, force: true });
  rmSync(sandbox.path('offline'), { recursive: true, force: true });
  await repo.init();
  expectExit(await sign('v1'), 0);
});

describe('the publisher refuses to sign over forged metadata', () => {
  it('a targets.json with an added entry: exit 3, nothing written', async () => {
    const snapshot = readJson(join(MD, `${current('snapshot')}.snapshot.json`));
    const file = `${snapshot.signed.meta['targets.json'].version}.targets.json`;
    const doc = readJson(join(MD, file));
    doc.signed.targets.evil = { length: 1, hashes: { sha256: 'e'.repeat(64) } };
    writeFileSync(join(MD, file), JSON.stringify(doc));
    const before = files();
    expectError(
      await sign('v2'),
      3,
      // snapshot lists its length and hashes: that catches it first (signatures: core's tests).
      /metadata\/\d+\.targets\.json: expected \d+ bytes, found more/,
    );
    expect(files()).toEqual(before);
  });

  it('a whole root chain of the attacker’s own, listing the publisher’s targets key: the pinned root refuses it', async () => {
    expect(readJson(PIN).signed.version).toBe(1);
    const attacker = (await generateKeyPair('ed25519')).signer;
    const root = readJson(join(MD, '1.root.json')).signed;
    const id = attacker.keyid;
    root.keys[id] = attacker.key.toJSON();
    for (const role of ['root', 'snapshot', 'timestamp']) root.roles[role].keyids = [id];
    root.roles.targets.keyids.push(id);
    await signedFile('1.root.json', root, [attacker]);
    await signedFile('root.json', root, [attacker]);
    const ts = readJson(join(MD, 'timestamp.json'));
    const sn = readJson(join(MD, `${current('snapshot')}.snapshot.json`));
    const tfile = `${sn.signed.meta['targets.json'].version}.targets.json`;
    const targets = readJson(join(MD, tfile)).signed;
    targets.targets.evil = { length: 1, hashes: { sha256: 'e'.repeat(64) } };
    await signedFile(tfile, targets, [attacker]);
    delete sn.signed.meta['targets.json'].hashes;
    delete sn.signed.meta['targets.json'].length;
    await signedFile(`${sn.signed.version}.snapshot.json`, sn.signed, [attacker]);
    delete ts.signed.meta['snapshot.json'].hashes;
    delete ts.signed.meta['snapshot.json'].length;
    await signedFile('timestamp.json', ts.signed, [attacker]);
    const before = files();
    expectError(
      await sign('v2'),
      3,
      /published root.json \(version 1\) is not the root version 1 of the chain from the pinned root/,
    );
    expect(files()).toEqual(before);
  });

  it('the pin follows a root rotation, and a storage rolled back behind it is refused', async () => {
    expectExit(
      await sandbox.tufa([
        'key',
        'rotate',
        GUN,
        'targets',
        '--root-key',
        'offline/root-registry-example-com-acme-web.json',
      ]),
      0,
    );
    expect(readJson(PIN).signed.version).toBe(2);
    expectExit(await sign('v2'), 0);
    // Storage served as it was before the rotation.
    rmSync(join(MD, '2.root.json'));
    writeFileSync(join(MD, 'root.json'), readFileSync(join(MD, '1.root.json')));
    expectError(await sign('v3'), 3, /older than the pinned root version 2/);
  });

  it('attach --root: the published chain must lead from the root given out of band', async () => {
    // A root of another repository stands for one the attacker's storage does not lead from.
    const other = publisher(sandbox, 'registry.example.com/acme/other');
    await other.init();
    const keys = sandbox.path('home', 'keys');
    const slug = GUN.replace(/[^A-Za-z0-9]+/g, '-');
    const keyArgs = ['targets', 'snapshot', 'timestamp'].flatMap((r) => [
      `--${r}-key`,
      join(keys, `${slug}-${r}.json`),
    ]);
    const attach = (root: string, home: string) =>
      sandbox
        .client(home)
        .tufa(['attach', GUN, '--publish-root', sandbox.path('pub'), ...keyArgs, '--root', root], {
          env: { TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE },
        });
    const refused = await attach(other.root, sandbox.path('second'));
    expectError(
      refused,
      3,
      /published root.json \(version 1\) is not the root version 1 of the chain from the pinned root/,
    );
    expect(existsSync(join(sandbox.path('second'), 'repos'))).toBe(false);
    expectError(await attach(sandbox.path('nothing.json'), sandbox.path('third')), 5, /cannot read --root/);
    writeFileSync(sandbox.path('not-a-root.json'), '{}');
    expectError(
      await attach(sandbox.path('not-a-root.json'), sandbox.path('third')),
      2,
      /--root .* is not a root signed by its own root keys/,
    );
    expectExit(await attach(repo.root, sandbox.path('fourth')), 0);
    const pinned = join(
      sandbox.path('fourth'),
      'repos',
      encodeURIComponent(GUN).replace(/\./g, '%2E'),
      'root.json',
    );
    expect(readJson(pinned).signed.version).toBe(1);
  });
});
