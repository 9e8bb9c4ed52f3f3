/**
 * What a person reads is never raw third-party text (DESIGN rule 13): tag names, role names and
 * `custom` values from metadata, and errors quoting names, are shown with control characters,
 * escape sequences and bidirectional overrides made visible; `--json` stays exact.
 *
 * The hostile metadata is written and signed here byte by byte with the repository's own keys
 * (valid signatures, as a delegated signer or a compromised CI job could produce them), not
 * through tufa's signing commands, which may refuse such names.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes, type Signer } from '@tufa/core';
import { loadKeyFileSigner } from '@tufa/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_DIR,
  digestOf,
  expectError,
  expectExit,
  expectJson,
  newestVersion,
  PASSPHRASE,
  publisher,
  readJson,
  Sandbox,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-visible-');
const GUN = 'registry.example.com/acme/visible';
const SLUG = 'registry-example-com-acme-visible';
const repo = publisher(sandbox, GUN);
const { pub: PUB, md: MD } = repo;
const client = sandbox.client(sandbox.path('client')).tufa;

/** Clears the screen, paints a fake line in red, then reverses what follows. */
const TAG = 'v1\x1b[2J\x1b[31mFAKE\u202egpj.exe';
const TAG_SHOWN = 'v1\\x1b[2J\\x1b[31mFAKE\\u202egpj.exe';
/** A delegated role: the repository refuses control characters in role file names, not these. */
const ROLE = 'rel\u202eeases\u200b';
const ROLE_SHOWN = 'rel\\u202eeases\\u200b';
const ROLE_TAG = 'd\x1b[1A\u2066x';
const ROLE_TAG_SHOWN = 'd\\x1b[1A\\u2066x';
/** A tag that would forge a line of `list` output (only whitespace-free tags can be typed, so list only). */
const NL_TAG = 'n\nplain\tsha256:forged';
const NL_TAG_SHOWN = 'n\\x0aplain\\x09sha256:forged';
const CUSTOM = { note: '\x1b]0;owned\x07\u202eok\u2028' };
const DIGEST = digestOf('hostile');
const ROLE_DIGEST = digestOf('role-tag');
/** What a terminal would act on, in anything printed as text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what must never be printed
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]/;

const FAR = '2100-01-01T00:00:00Z';
const enc = new TextEncoder();

async function signRaw(signed: Record<string, unknown>, signer: Signer): Promise<Uint8Array> {
  const sig = await signer.sign(canonicalBytes(signed));
  return enc.encode(JSON.stringify({ signatures: [sig.toJSON()], signed }, null, 1));
}

function key(role: string): Promise<Signer> {
  return loadKeyFileSigner(sandbox.path('home', 'keys', `${SLUG}-${role}.json`), async () => PASSPHRASE);
}

/** Publishes new targets (with the hostile tag and delegation), snapshot and timestamp by hand. */
async function publishHostile(): Promise<void> {
  const [targetsKey, snapshotKey, timestampKey] = await Promise.all([
    key('targets'),
    key('snapshot'),
    key('timestamp'),
  ]);
  const v = newestVersion(MD, 'targets') + 1;
  const targets = readJson(join(MD, `${v - 1}.targets.json`)).signed;
  targets.version = v;
  targets.targets[TAG] = { length: 7, hashes: { sha256: DIGEST.slice(7) }, custom: CUSTOM };
  targets.targets[NL_TAG] = { length: 9, hashes: { sha256: DIGEST.slice(7) } };
  targets.delegations = {
    keys: { [targetsKey.keyid]: targetsKey.key.toJSON() },
    roles: [{ name: ROLE, keyids: [targetsKey.keyid], threshold: 1, terminating: false, paths: ['d*'] }],
  };
  const role = {
    _type: 'targets',
    spec_version: '1.0.31',
    version: 1,
    expires: FAR,
    targets: { [ROLE_TAG]: { length: 8, hashes: { sha256: ROLE_DIGEST.slice(7) } } },
  };
  const sv = newestVersion(MD, 'snapshot') + 1;
  const snapshot = {
    _type: 'snapshot',
    spec_version: '1.0.31',
    version: sv,
    expires: FAR,
    meta: { 'targets.json': { version: v }, [`${ROLE}.json`]: { version: 1 } },
  };
  const timestamp = {
    _type: 'timestamp',
    spec_version: '1.0.31',
    version: readJson(join(MD, 'timestamp.json')).signed.version + 1,
    expires: FAR,
    meta: { 'snapshot.json': { version: sv } },
  };
  writeFileSync(join(MD, `${v}.targets.json`), await signRaw(targets, targetsKey));
  writeFileSync(join(MD, `1.${ROLE}.json`), await signRaw(role, targetsKey));
  writeFileSync(join(MD, `${sv}.snapshot.json`), await signRaw(snapshot, snapshotKey));
  writeFileSync(join(MD, 'timestamp.json'), await signRaw(timestamp, timestampKey));
}

beforeAll(async () => {
  await repo.init();
  expectExit(await sandbox.tufa(['sign', `${GUN}:plain`, '--digest', digestOf('plain'), '--size', '5']), 0);
  await publishHostile();
  // Trust pinned once from the publisher's first root.
  expectExit(await client(['list', GUN, '--server', PUB, '--root', join(MD, '1.root.json')]), 0);
});
afterAll(() => sandbox.cleanup());

describe('text output escapes names and custom values from metadata', () => {
  it('list (client): tags and role names escaped, one line per tag', async () => {
    const r = expectExit(await client(['list', GUN, '--server', PUB]), 0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `${ROLE_TAG_SHOWN}\t${ROLE_DIGEST}\t8\t${ROLE_SHOWN}`,
      `${NL_TAG_SHOWN}\t${DIGEST}\t9\ttargets`,
      `plain\t${digestOf('plain')}\t5\ttargets`,
      `${TAG_SHOWN}\t${DIGEST}\t7\ttargets`,
    ]);
  });

  it('list (publisher, local repository): the same', async () => {
    const r = expectExit(await sandbox.tufa(['list', GUN]), 0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain(`${TAG_SHOWN}\t${DIGEST}\t7\ttargets`);
    expect(r.stdout).toContain(`${ROLE_TAG_SHOWN}\t${ROLE_DIGEST}\t8\t${ROLE_SHOWN}`);
  });

  it('lookup: the tag, the role and custom escaped', async () => {
    const r = expectExit(await client(['lookup', GUN, TAG, '--server', PUB]), 0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toBe(
      `${GUN}:${TAG_SHOWN} ${DIGEST} 7 bytes (targets)\n  custom: {"note":"\\u001b]0;owned\\u0007\\u202eok\\u2028"}\n`,
    );
    const d = expectExit(await client(['lookup', GUN, ROLE_TAG, '--server', PUB]), 0);
    expect(d.stdout).toBe(`${GUN}:${ROLE_TAG_SHOWN} ${ROLE_DIGEST} 8 bytes (${ROLE_SHOWN})\n`);
  });

  it('verify: the tag and the signing role escaped', async () => {
    const r = expectExit(
      await client(['verify', GUN, ROLE_TAG, '--server', PUB, '--digest', ROLE_DIGEST]),
      0,
    );
    expect(r.stdout).toBe(
      `${GUN}:${ROLE_TAG_SHOWN} ${ROLE_DIGEST} 8 bytes (signed by ${ROLE_SHOWN}) — digest matches\n`,
    );
  });

  it('status: the delegated role name escaped', async () => {
    const r = expectExit(await sandbox.tufa(['status', GUN]), 0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toMatch(new RegExp(`^  ${ROLE_SHOWN.replaceAll('\\', '\\\\')} +v1 `, 'm'));
  });

  it('delegation list: the role name escaped', async () => {
    const r = expectExit(await sandbox.tufa(['delegation', 'list', GUN]), 0);
    expect(r.stdout).toBe(`${ROLE_SHOWN}\tthreshold 1\t\td*\n`);
  });
});

describe('--json output stays exact (and safe to print)', () => {
  it('list, lookup, verify and status give the names and custom exactly', async () => {
    const [list, lookup, verify, status] = await Promise.all([
      client(['--json', 'list', GUN, '--server', PUB]),
      client(['--json', 'lookup', GUN, TAG, '--server', PUB]),
      client(['--json', 'verify', GUN, ROLE_TAG, '--server', PUB]),
      sandbox.tufa(['--json', 'status', GUN]),
    ]);
    const tags = expectJson(list).tags as { tag: string; role: string }[];
    expect(tags.map((t) => [t.tag, t.role])).toEqual([
      [ROLE_TAG, ROLE],
      [NL_TAG, 'targets'],
      ['plain', 'targets'],
      [TAG, 'targets'],
    ]);
    expect(expectJson(lookup)).toMatchObject({ tag: TAG, role: 'targets', custom: CUSTOM });
    expect(expectJson(verify)).toMatchObject({ tag: ROLE_TAG, role: ROLE, verified: true });
    const roles = (expectJson(status).roles as { role: string }[]).map((r) => r.role);
    expect(roles).toContain(ROLE);
    // Exact once parsed, yet nothing a terminal acts on in the bytes printed.
    for (const r of [list, lookup, verify, status]) expect(r.stdout.replaceAll('\n', '')).not.toMatch(RAW);
  });
});

describe('errors that quote names are escaped', () => {
  it('a tag given on the command line that is not signed (CLI error)', async () => {
    const r = await client(['verify', GUN, 'nope\x1b[2J\u202e', '--server', PUB]);
    expectError(r, 5, `${GUN}:nope\\x1b[2J\\u202e is not signed`);
    expect(r.stderr).not.toMatch(RAW);
  });

  it('a role name quoted by the library (JSON.stringify leaves U+202E raw)', async () => {
    const r = await sandbox.tufa([
      'delegation',
      'list',
      GUN,
      '--delegator',
      'no\x1b[2J\u202esuch\nHint: fake',
    ]);
    expectExit(r, 5);
    expect(r.stderr).not.toMatch(RAW);
    const lines = r.stderr.trimEnd().split('\n');
    // One Error line: the line feed in the name cannot start a line of its own.
    expect(lines).toEqual([
      'Error: the repository has no targets role "no\\u001b[2J\\u202esuch\\nHint: fake"',
    ]);
  });

  it('--json errors keep the message exact', async () => {
    const r = await sandbox.tufa(['--json', 'delegation', 'list', GUN, '--delegator', 'x\u202ey']);
    const v = expectJson<{ error: { message: string } }>(r, 5);
    expect(v.error.message).toBe('the repository has no targets role "x\u202ey"');
    expect(r.stdout).not.toMatch(RAW);
  });
});

describe('the last line of defence: the writers escape what a command left raw', () => {
  it('a warning naming an unreadable key file (key list)', async () => {
    const home = sandbox.path('home-keys');
    mkdirSync(join(home, 'keys'), { recursive: true });
    writeFileSync(join(home, 'keys', 'evil\x1b[2J\u202e.json'), 'not a key file');
    const r = await sandbox.tufa(['key', 'list'], { env: { TUFA_HOME: home } });
    expectExit(r, 0);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toMatch(/^Warning: evil\\x1b\[2J\\u202e\.json: /);
  });
});

// ---------------------------------------------------------------------------------------------
// Notary tag names, from a collection the real `notary` CLI signed.

const HAVE_NOTARY = existsSync('/usr/bin/notary-server') && existsSync('/usr/bin/notary');
if (!HAVE_NOTARY && process.env.CI === 'true') {
  throw new Error('notary-server and notary are required under CI=true (apt-get install -y notary)');
}

describe.skipIf(!HAVE_NOTARY)('tufa notary list and verify escape Notary tag names', () => {
  const REPO = join(CLI_DIR, '..', '..');
  const NOTARY_GUN = 'example.com/visible/app';
  // Notary's Go JSON encoder refuses raw C0 controls; the 8-bit CSI, DEL and U+202E pass.
  const NOTARY_TAG = 'n\u009b2J\x7f\u202etag';
  const NOTARY_TAG_SHOWN = 'n\\x9b2J\\x7f\\u202etag';
  const work = sandbox.path('notary');
  let serverPid = 0;

  beforeAll(() => {
    const started = spawnSync('bash', [join(REPO, 'scripts/notary/start-server.sh'), join(work, 'server')], {
      encoding: 'utf8',
    });
    if (started.status !== 0) throw new Error(`notary-server did not start: ${started.stderr}`);
    const [url, pid] = started.stdout.trim().split(' ');
    serverPid = Number(pid);
    const config = join(work, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        trust_dir: join(work, 'trust'),
        remote_server: { url, root_ca: join(REPO, 'test-vectors/tls/ca.pem') },
      }),
    );
    const env = {
      ...process.env,
      NOTARY_ROOT_PASSPHRASE: 'test-only-root',
      NOTARY_TARGETS_PASSPHRASE: 'test-only-targets',
      NOTARY_SNAPSHOT_PASSPHRASE: 'test-only-snapshot',
    };
    for (const args of [
      ['init', NOTARY_GUN],
      ['addhash', NOTARY_GUN, NOTARY_TAG, '3', '--sha256', DIGEST.slice(7)],
      ['publish', NOTARY_GUN],
      ['list', NOTARY_GUN], // fetches the whole collection into the trust directory
    ]) {
      const r = spawnSync('notary', ['-c', config, ...args], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`notary ${args[0]} failed: ${r.stdout}${r.stderr}`);
    }
  }, 120_000);
  afterAll(() => {
    if (serverPid) process.kill(serverPid);
  });

  it('list and verify: the tag escaped in text, exact in --json', async () => {
    const trust = join(work, 'trust');
    const list = expectExit(await sandbox.tufa(['notary', 'list', '--trust-dir', trust, NOTARY_GUN]), 0);
    expect(list.stdout).not.toMatch(RAW);
    // The columns line up on what is shown.
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[2]?.indexOf(DIGEST.slice(7))).toBe(lines[0]?.indexOf('DIGEST'));
    expect(lines[2]?.split(/ {4,}/)).toEqual([NOTARY_TAG_SHOWN, DIGEST.slice(7), '3', 'targets']);
    const verify = expectExit(
      await sandbox.tufa(['notary', 'verify', '--trust-dir', trust, `${NOTARY_GUN}:${NOTARY_TAG}`]),
      0,
    );
    expect(verify.stdout).not.toMatch(RAW);
    expect(verify.stdout).toContain(
      `${NOTARY_GUN}:${NOTARY_TAG_SHOWN} ${DIGEST} 3 bytes (signed by targets;`,
    );
    const json = expectJson(
      await sandbox.tufa(['--json', 'notary', 'list', '--trust-dir', trust, NOTARY_GUN]),
    );
    expect((json.tags as { tag: string }[]).map((t) => t.tag)).toEqual([NOTARY_TAG]);
  });
});
