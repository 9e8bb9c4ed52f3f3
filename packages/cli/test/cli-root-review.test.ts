/**
 * `tufa root sign` shows what it signs before signing, read from the metadata and compared with
 * a trusted previous root, and signs only after a yes (a terminal prompt, or `--yes`). The
 * request here swaps the root key for an attacker's while its free-text description, with
 * escape sequences that would clear the screen, claims a routine re-sign.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '@tufa/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  expectError,
  expectExit,
  expectJson,
  PASSPHRASE,
  publisher,
  readJson,
  Sandbox,
  sha256hex,
} from './helpers/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON output and request files, read loosely in assertions
type Loose = Record<string, any>;

const sandbox = new Sandbox('tufa-root-review-');
const GUN = 'registry.example.com/acme/ceremony';
const SLUG = 'registry-example-com-acme-ceremony';
const repo = publisher(sandbox, GUN);
const MD = repo.md;
const PREVIOUS = join(MD, '1.root.json');
const ROOT_KEY = sandbox.path('offline', `root-${SLUG}.json`);
const ATTACKER_KEY = sandbox.path('attacker', 'attacker.json');
const SWAP = sandbox.path('swap.json');
/** A home with no repository and no client cache: an offline signing machine. */
const OFFLINE_HOME = sandbox.path('offline-home');
const CLIENT_HOME = sandbox.path('client-home');
const DESCRIPTION = '\x1b[2J\x1b[H  root: re-sign to extend expiry, no key changes \u202e';
const DESCRIPTION_SHOWN = '\\x1b[2J\\x1b[H  root: re-sign to extend expiry, no key changes \\u202e';
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what must never be printed
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]/;
let rootKeyid: string;
let attackerKeyid: string;
let copies = 0;

/** A fresh copy of the swap request, so each test starts unsigned. */
function copy(from = SWAP): string {
  const to = sandbox.path(`copy-${++copies}.json`);
  copyFileSync(from, to);
  return to;
}

function signatures(file: string): string[] {
  return readJson(file).metadata.signatures.map((s: { keyid: string }) => s.keyid);
}

beforeAll(async () => {
  await repo.init();
  expectExit(await sandbox.tufa(['key', 'generate', 'attacker', '--out', ATTACKER_KEY]), 0);
  rootKeyid = readJson(ROOT_KEY).keyid;
  attackerKeyid = readJson(ATTACKER_KEY).keyid;
  // The swap, as whoever prepares the ceremony can make it; then the description is rewritten.
  expectExit(
    await sandbox.tufa([
      'root',
      'sign-request',
      GUN,
      '-o',
      SWAP,
      '--add-key',
      ATTACKER_KEY,
      '--remove-key',
      rootKeyid,
    ]),
    0,
  );
  const request = readJson(SWAP);
  request.changes = [DESCRIPTION];
  writeFileSync(SWAP, JSON.stringify(request, null, 1));
  mkdirSync(OFFLINE_HOME);
});
afterAll(() => sandbox.cleanup());

describe('tufa root sign: the review before signing', () => {
  it('without --yes and without a terminal nothing is signed; the review shows the real swap', async () => {
    const file = copy();
    const before = readFileSync(file);
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--previous', PREVIOUS]);
    expectError(r, 2, `${file} was not signed: not confirmed`, '--yes');
    expect(readFileSync(file)).toEqual(before);
    expect(r.stdout).toBe('');
    expect(r.stdout + r.stderr).not.toMatch(RAW);
    const review = r.stderr;
    expect(review).toContain(`changes against root version 1, --previous ${PREVIOUS}:`);
    expect(review).toContain(`    root: add key ${attackerKeyid} (ed25519)\n`);
    expect(review).toContain(`    root: remove key ${rootKeyid} (ed25519)\n`);
    expect(review).toContain(`    root: threshold 1 of ${attackerKeyid}\n`);
    // The description is shown for what it is, its escapes made visible, after the real changes.
    expect(review).toContain(
      `  the request's own description (written by whoever made the request; not checked):\n    ${DESCRIPTION_SHOWN}\n`,
    );
    expect(review.indexOf('root: add key')).toBeLessThan(review.indexOf(DESCRIPTION_SHOWN));
    expect(review.indexOf(DESCRIPTION_SHOWN)).toBeLessThan(review.indexOf('Error: '));
  });

  it('--yes signs after the same review', async () => {
    const file = copy();
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--previous', PREVIOUS, '--yes']);
    expectExit(r, 0);
    expect(r.stderr).toContain(`    root: add key ${attackerKeyid} (ed25519)\n`);
    expect(r.stdout.split('\n')[0]).toBe(`signed with ${rootKeyid}; wrote ${file}`);
    expect(signatures(file)).toEqual([rootKeyid]);
    expect(r.stdout + r.stderr).not.toMatch(RAW);
  });

  it('--json: the comparison as data, the description exact, nothing raw printed', async () => {
    const file = copy();
    const r = await sandbox.tufa([
      '--json',
      'root',
      'sign',
      file,
      '--key',
      ROOT_KEY,
      '--previous',
      PREVIOUS,
      '--yes',
    ]);
    const v = expectJson<Loose>(r);
    expect(v.comparison).toMatchObject({
      against: { version: 1, source: `--previous ${PREVIOUS}` },
      previousVersion: 1,
      added: [{ role: 'root', keyid: attackerKeyid, keytype: 'ed25519', computedKeyid: attackerKeyid }],
      removed: [{ role: 'root', keyid: rootKeyid, keytype: 'ed25519' }],
      thresholds: [],
    });
    expect(v.comparisonUnavailable).toBeNull();
    expect(v.claimedChanges).toEqual([DESCRIPTION]);
    expect(v.root.roles[0]).toMatchObject({ role: 'root', threshold: 1, keyids: [attackerKeyid] });
    expect(v.root.keys.map((k: { keyid: string }) => k.keyid)).toContain(attackerKeyid);
    expect(r.stdout.replaceAll('\n', '')).not.toMatch(RAW);
  });

  it('without a trusted previous root it says that no comparison was possible', async () => {
    const file = copy();
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--yes'], {
      env: { TUFA_HOME: OFFLINE_HOME },
    });
    expectExit(r, 0);
    expect(r.stderr).toContain('  NO COMPARISON WAS POSSIBLE: no trusted previous root was given');
    expect(r.stderr).not.toContain('add key');
    // Everything that is signed is still listed.
    expect(r.stderr).toContain(`    root: threshold 1 of ${attackerKeyid}\n`);
    const json = await sandbox.tufa(['--json', 'status', '--request', file], {
      env: { TUFA_HOME: OFFLINE_HOME },
    });
    const v = expectJson<Loose>(json);
    expect(v.comparison).toBeNull();
    expect(v.comparisonUnavailable).toMatch(/^no trusted previous root was given/);
    // The old root's threshold can then only be the request's claim, and is marked so.
    expect(v.thresholds[0]).toMatchObject({ by: 'root version 1', claimed: true });
  });

  it('--gun GUN: compared with the root this machine last verified for it (client cache)', async () => {
    const env = { TUFA_HOME: CLIENT_HOME, TUFA_PASSPHRASE: undefined };
    expectExit(await sandbox.tufa(['list', GUN, '--server', 'pub', '--root', PREVIOUS], { env }), 0);
    const file = copy();
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--gun', GUN, '--yes'], {
      env: { ...env, TUFA_PASSPHRASE: PASSPHRASE },
    });
    expectExit(r, 0);
    expect(r.stderr).toMatch(
      new RegExp(`changes against root version 1, the root this machine last verified for ${GUN} \\(`),
    );
    expect(r.stderr).toContain(`    root: add key ${attackerKeyid} (ed25519)\n`);
    expect(r.stderr).toContain(`    root: remove key ${rootKeyid} (ed25519)\n`);
  });

  it('--gun GUN on the publishing machine: compared with the root it publishes', async () => {
    const r = await sandbox.tufa(['root', 'sign', copy(), '--key', ROOT_KEY, '--gun', GUN, '--yes']);
    expectExit(r, 0);
    expect(r.stderr).toContain(
      `changes against root version 1, the root this machine publishes for ${GUN} (`,
    );
    expect(r.stderr).toContain(`    root: remove key ${rootKeyid} (ed25519)\n`);
  });

  it('--gun GUN the machine knows nothing of: no comparison, said plainly', async () => {
    const r = await sandbox.tufa([
      'root',
      'sign',
      copy(),
      '--key',
      ROOT_KEY,
      '--gun',
      'example.com/other',
      '--yes',
    ]);
    expectExit(r, 0);
    expect(r.stderr).toContain(
      'NO COMPARISON WAS POSSIBLE: this machine trusts no root older than version 2 for example.com/other',
    );
  });

  it('status GUN --request compares the same way', async () => {
    const r = expectExit(await sandbox.tufa(['status', GUN, '--request', SWAP]), 0);
    expect(r.stdout).toContain(`    root: add key ${attackerKeyid} (ed25519)\n`);
    expect(r.stdout).toContain(DESCRIPTION_SHOWN);
    expect(r.stdout).not.toMatch(RAW);
  });
});

describe('tufa root sign: the previous root must be the trusted predecessor', () => {
  it('--previous that is not the root the request replaces is refused (exit 2), nothing signed', async () => {
    const file = copy();
    const before = readFileSync(file);
    const wrong = sandbox.path('version-2.json');
    writeFileSync(wrong, JSON.stringify(readJson(SWAP).metadata));
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--previous', wrong, '--yes']);
    expectError(
      r,
      2,
      `--previous ${wrong} is root version 2, but the request is for version 2: give version 1`,
    );
    expect(readFileSync(file)).toEqual(before);
  });

  it('--previous that is not validly signed is refused (exit 3), nothing signed', async () => {
    const file = copy();
    const before = readFileSync(file);
    const tampered = sandbox.path('tampered-1.json');
    const root = readJson(PREVIOUS);
    root.signed.expires = '2099-01-01T00:00:00Z'; // the signature no longer covers it
    writeFileSync(tampered, JSON.stringify(root));
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--previous', tampered, '--yes']);
    expectError(r, 3, `--previous ${tampered} is not a validly signed root`);
    expect(readFileSync(file)).toEqual(before);
  });

  it('a keyid of the trusted root reused for the attacker key is shown as a swap', async () => {
    // Made by hand: the new root keeps the root keyid but puts the attacker's key behind it.
    const signed = readJson(PREVIOUS).signed;
    signed.version = 2;
    const attackerKey = expectJson<Loose>(await sandbox.tufa(['--json', 'key', 'export', ATTACKER_KEY])).key;
    signed.keys[rootKeyid] = attackerKey;
    const rootKey = readJson(PREVIOUS).signed.keys[rootKeyid];
    const request = {
      tufa_signing_request: 1,
      role: 'root',
      version: 2,
      signed_sha256: sha256hex(canonicalBytes(signed)),
      changes: ['re-sign, nothing else'],
      required: [
        { by: 'root version 1', threshold: 1, keyids: [rootKeyid] },
        { by: 'root version 2 (new)', threshold: 1, keyids: [rootKeyid] },
      ],
      keys: { [rootKeyid]: rootKey },
      metadata: { signatures: [], signed },
    };
    const file = sandbox.path('reused-keyid.json');
    writeFileSync(file, JSON.stringify(request));
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--previous', PREVIOUS]);
    expectExit(r, 2);
    expect(r.stderr).toContain(
      `    root: add key ${rootKeyid} (ed25519) — NOT the keyid of this key, which is ${attackerKeyid}\n`,
    );
    expect(r.stderr).toContain(`    root: remove key ${rootKeyid} (ed25519)\n`);
  });

  it('a root as new as the request that this machine already trusts is pointed out', async () => {
    // Another root version 2 is published meanwhile (a timestamp key rotation).
    expectExit(await sandbox.tufa(['key', 'rotate', GUN, 'timestamp', '--root-key', ROOT_KEY]), 0);
    const r = await sandbox.tufa(['root', 'sign', copy(), '--key', ROOT_KEY, '--gun', GUN]);
    expectExit(r, 2);
    expect(r.stderr).toContain(
      `  NOTE: this machine already trusts root version 2, as new as this request: the root this machine publishes for ${GUN} (`,
    );
    expect(r.stderr).toContain('a different root with a version already in use forks the chain of trust');
    // Still compared with the root it replaces.
    expect(r.stderr).toContain(
      `changes against root version 1, the root this machine publishes for ${GUN} (`,
    );
  });

  it('a request for another role is refused by root sign', async () => {
    const signed = {
      _type: 'targets',
      spec_version: '1.0.31',
      version: 3,
      expires: '2100-01-01T00:00:00Z',
      targets: {},
    };
    const file = sandbox.path('targets-request.json');
    writeFileSync(
      file,
      JSON.stringify({
        tufa_signing_request: 1,
        role: 'targets',
        version: 3,
        signed_sha256: sha256hex(canonicalBytes(signed)),
        changes: [],
        required: [],
        keys: {},
        metadata: { signatures: [], signed },
      }),
    );
    const r = await sandbox.tufa(['root', 'sign', file, '--key', ROOT_KEY, '--yes']);
    expectError(r, 2, 'tufa root sign signs root requests');
    expect(signatures(file)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// On a terminal: `script` (util-linux) runs tufa under a pseudo-terminal; the answer is typed
// only once the question is on the screen.

const HAS_SCRIPT = ['/usr/bin/script', '/bin/script'].some((p) => existsSync(p));
if (!HAS_SCRIPT && process.env.CI === 'true') throw new Error('script (util-linux) is required under CI');

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

function underTerminal(args: string[], answer: string): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: sandbox.dir,
    TERM: 'dumb',
    NO_COLOR: '1',
    TUFA_HOME: sandbox.home,
    TUFA_PASSPHRASE: PASSPHRASE,
    TUFA_SCRYPT_N: '1024',
  };
  return new Promise((done, fail) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: sandbox.dir, env });
    let output = '';
    let answered = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      output += c;
      if (!answered && output.includes('[y/N]')) {
        answered = true;
        child.stdin.write(answer);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      output += c;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

describe.skipIf(!HAS_SCRIPT)('tufa root sign on a terminal', () => {
  it('asks after the review; "n" signs nothing (exit 1)', async () => {
    const file = copy();
    const before = readFileSync(file);
    const r = await underTerminal(['root', 'sign', file, '--key', ROOT_KEY, '--previous', PREVIOUS], 'n\r');
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain(`${file} was not signed: declined`);
    expect(readFileSync(file)).toEqual(before);
    const asked = r.output.indexOf('Sign root version 2? [y/N]');
    expect(asked).toBeGreaterThan(r.output.indexOf(`root: add key ${attackerKeyid} (ed25519)`));
    expect(r.output).not.toContain('\x1b[2J');
    expect(r.output).not.toContain('\u202e');
  });

  it('"y" signs', async () => {
    const file = copy();
    const r = await underTerminal(['root', 'sign', file, '--key', ROOT_KEY, '--previous', PREVIOUS], 'y\r');
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(`signed with ${rootKeyid}; wrote ${file}`);
    expect(signatures(file)).toEqual([rootKeyid]);
  });

  it('end of input (Ctrl-D) is no', async () => {
    const file = copy();
    const before = readFileSync(file);
    const r = await underTerminal(['root', 'sign', file, '--key', ROOT_KEY, '--previous', PREVIOUS], '\x04');
    expect(r.code, r.output).toBe(1);
    expect(readFileSync(file)).toEqual(before);
  });
});
