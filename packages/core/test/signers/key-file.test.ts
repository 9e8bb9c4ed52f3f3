import { createCipheriv, createPrivateKey, randomBytes, scryptSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/json/canonical.js';
import {
  changePassphrase,
  DEFAULT_SCRYPT_N,
  encodeKeyFile,
  inspectKeyFile,
  keyFileBytesSigner,
  loadKeyFileSigner,
  readKeyFile,
  writeKeyFile,
} from '../../src/signers/index.js';
import {
  everythingShown,
  expectSigns,
  FAST,
  KINDS,
  listDir,
  modeOf,
  pair,
  readJson,
  rejection,
  secretsOf,
  tempDir,
} from './helpers.js';

const PASS = 'correct horse battery staple';
const POSIX = process.platform !== 'win32';
type Doc = Record<string, unknown>;
const member = (doc: Doc, name: string): Doc => doc[name] as Doc;

describe('key files: round trip', () => {
  it.each(KINDS)('%s: write, read without a passphrase, load, sign, verify', async (kind) => {
    const dir = await tempDir();
    const path = join(dir, `${kind}.json`);
    const kp = await pair(kind);
    const info = await writeKeyFile(path, kp, PASS, FAST);
    expect(info).toEqual({ key: kp.key, keyid: kp.key.keyid(), encrypted: true });
    if (POSIX) expect(await modeOf(path)).toBe(0o600);
    expect(await listDir(dir)).toEqual([`${kind}.json`]); // no temporary file left

    const meta = await readKeyFile(path);
    expect(meta.encrypted).toBe(true);
    expect(meta.keyid).toBe(kp.key.keyid());
    expect(meta.key.toJSON()).toEqual(kp.key.toJSON());

    const secrets = secretsOf(PASS);
    const signer = await loadKeyFileSigner(path, secrets);
    expect(secrets.requests).toEqual([
      { kind: 'passphrase', keyid: kp.key.keyid(), label: `key file ${JSON.stringify(path)}` },
    ]);
    expect(signer.keyid).toBe(kp.key.keyid());
    expect(signer.key.toJSON()).toEqual(kp.key.toJSON());
    await expectSigns(signer);

    const text = await readFile(path, 'utf8');
    const doc = JSON.parse(text) as Doc;
    expect(Object.keys(doc)).toEqual(['tufa_key', 'keyid', 'key', 'kdf', 'cipher', 'ciphertext']);
    expect(doc['kdf']).toMatchObject({ name: 'scrypt', N: 1024, r: 8, p: 1 });
    expect(doc['cipher']).toMatchObject({ name: 'aes-256-gcm' });
    // The private key is nowhere in clear.
    const pkcs8 = createPrivateKey(kp.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
    expect(text).not.toContain(pkcs8.toString('base64').slice(-40));
    expect(text).not.toContain(PASS);
  });

  it('the default cost is scrypt N = 2^17, r = 8, p = 1', async () => {
    expect(DEFAULT_SCRYPT_N).toBe(2 ** 17);
    const doc = JSON.parse(new TextDecoder().decode(await encodeKeyFile(await pair('ed25519'), PASS))) as Doc;
    expect(doc['kdf']).toMatchObject({ N: 2 ** 17, r: 8, p: 1 });
  });

  it('two files for one key differ (fresh salt and iv)', async () => {
    const kp = await pair('ed25519');
    const a = JSON.parse(new TextDecoder().decode(await encodeKeyFile(kp, PASS, FAST))) as Doc;
    const b = JSON.parse(new TextDecoder().decode(await encodeKeyFile(kp, PASS, FAST))) as Doc;
    expect(member(a, 'kdf')['salt']).not.toBe(member(b, 'kdf')['salt']);
    expect(member(a, 'cipher')['iv']).not.toBe(member(b, 'cipher')['iv']);
    expect(Buffer.from(String(member(a, 'kdf')['salt']), 'base64')).toHaveLength(32);
    expect(Buffer.from(String(member(a, 'cipher')['iv']), 'base64')).toHaveLength(12);
    expect(Buffer.from(String(member(a, 'cipher')['tag']), 'base64')).toHaveLength(16);
  });

  it('keeps a custom keyid, and a loaded signer may sign as another', async () => {
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    const keyid = 'ab'.repeat(32);
    await writeKeyFile(path, { ...(await pair('ed25519')), keyid }, PASS, FAST);
    expect((await readKeyFile(path)).keyid).toBe(keyid);
    expect((await loadKeyFileSigner(path, secretsOf(PASS))).keyid).toBe(keyid);
    const other = 'cd'.repeat(32);
    expect((await loadKeyFileSigner(path, secretsOf(PASS), { keyid: other })).keyid).toBe(other);
  });

  it('takes a KeyObject as well as a PEM', async () => {
    const kp = await pair('ecdsa-p256');
    const bytes = await encodeKeyFile(
      { key: kp.key, privateKey: createPrivateKey(kp.privateKeyPem) },
      PASS,
      FAST,
    );
    expect(inspectKeyFile(bytes)).toEqual({ key: kp.key, keyid: kp.key.keyid(), encrypted: true });
  });

  it('refuses a private key that does not match the public key', async () => {
    const a = await pair('ed25519', 0);
    const b = await pair('ed25519', 1);
    const err = await rejection(encodeKeyFile({ key: a.key, privateKeyPem: b.privateKeyPem }, PASS, FAST));
    expect(err.code).toBe('KEY');
  });

  it('treats NFC and NFD spellings of a passphrase as the same', async () => {
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, await pair('ed25519'), 'caf\u00e9', FAST);
    await expectSigns(await loadKeyFileSigner(path, secretsOf('cafe\u0301')));
  });

  it('reads a file built independently from the documented format', async () => {
    // Follows docs/adr/0004-key-storage.md, not the implementation.
    const kp = await pair('ecdsa-p384');
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const kdf = { name: 'scrypt', salt: salt.toString('base64'), N: 2048, r: 8, p: 1 };
    const header = {
      tufa_key: 1,
      keyid: kp.key.keyid(),
      key: kp.key.toJSON(),
      kdf,
      cipher: { name: 'aes-256-gcm', iv: iv.toString('base64') },
    };
    const dk = scryptSync(Buffer.from('pw'), salt, 32, { N: 2048, r: 8, p: 1 });
    const c = createCipheriv('aes-256-gcm', dk, iv);
    c.setAAD(canonicalBytes(header));
    const der = createPrivateKey(kp.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
    const ct = Buffer.concat([c.update(der), c.final()]);
    const doc = {
      ...header,
      cipher: { ...header.cipher, tag: c.getAuthTag().toString('base64') },
      ciphertext: ct.toString('base64'),
    };
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    await writeFile(path, JSON.stringify(doc));
    await expectSigns(await loadKeyFileSigner(path, secretsOf('pw')));
  });
});

describe('key files: wrong passphrase and tampering', () => {
  it('a wrong passphrase is a KEY error that never shows the passphrase', async () => {
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, await pair('ed25519'), PASS, FAST);
    const wrong = 'hunter2-wrong-passphrase-9f8e7d';
    const err = await rejection(loadKeyFileSigner(path, secretsOf(wrong)));
    expect(err.code).toBe('KEY');
    expect(err.name).toBe('KeyError');
    expect(err.message).toContain('wrong passphrase or corrupted key file');
    expect(err.message).toContain(path);
    const shown = everythingShown(err);
    expect(shown).not.toContain(wrong);
    expect(shown).not.toContain(PASS);
    expect(err.cause).toBeUndefined();
  });

  const bytes = (b64: unknown): Buffer => Buffer.from(String(b64), 'base64');
  const flip = (b64: unknown): string => {
    const b = bytes(b64);
    b[0] = (b[0] ?? 0) ^ 1;
    return b.toString('base64');
  };
  const REMOVE = Symbol('remove');

  /** [case, edits]: each edit sets `field` of the document (or of its member `where`) to `to(old, other)`. */
  type Edit = [
    where: '' | 'key' | 'kdf' | 'cipher',
    field: string,
    to: (old: unknown, other: Doc) => unknown,
  ];
  const TAMPER: [string, Edit[]][] = [
    ['key swapped for another key', [['', 'key', (_, o) => o['key']]]],
    [
      'key and keyid swapped for another key',
      [
        ['', 'key', (_, o) => o['key']],
        ['', 'keyid', (_, o) => o['keyid']],
      ],
    ],
    ['keyid changed', [['', 'keyid', () => 'ff'.repeat(32)]]],
    ['unknown field added to the key', [['key', 'x_extra', () => 1]]],
    ['kdf salt changed', [['kdf', 'salt', flip]]],
    ['kdf N changed', [['kdf', 'N', () => 2048]]],
    ['kdf r changed', [['kdf', 'r', () => 4]]],
    ['kdf p changed', [['kdf', 'p', () => 2]]],
    ['kdf name changed', [['kdf', 'name', () => 'argon2id']]],
    ['cipher name changed', [['cipher', 'name', () => 'aes-128-gcm']]],
    ['iv changed', [['cipher', 'iv', flip]]],
    ['tag changed', [['cipher', 'tag', flip]]],
    ['tag truncated', [['cipher', 'tag', (t) => bytes(t).subarray(0, 12).toString('base64')]]],
    ['ciphertext changed', [['', 'ciphertext', flip]]],
    ['ciphertext truncated', [['', 'ciphertext', (c) => bytes(c).subarray(0, 30).toString('base64')]]],
    ['ciphertext not base64', [['', 'ciphertext', (c) => `${String(c)}!`]]],
    ['version changed', [['', 'tufa_key', () => 2]]],
    ['field added', [['', 'comment', () => 'hi']]],
    ['ciphertext removed', [['', 'ciphertext', () => REMOVE]]],
    ['marked unencrypted', [['', 'unencrypted', () => true]]],
  ];

  function applyEdits(doc: Doc, other: Doc, edits: Edit[]): void {
    for (const [where, field, to] of edits) {
      const target = where === '' ? doc : (doc[where] as Doc);
      const value = to(target[field], other);
      if (value === REMOVE) delete target[field];
      else target[field] = value;
    }
  }

  it.each(TAMPER)('%s → KEY', async (_name, edits) => {
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    const otherPath = join(dir, 'other.json');
    await writeKeyFile(path, await pair('ed25519', 0), PASS, FAST);
    await writeKeyFile(otherPath, await pair('ed25519', 1), PASS, FAST);
    const doc = await readJson(path);
    applyEdits(doc, await readJson(otherPath), edits);
    await writeFile(path, JSON.stringify(doc));
    const err = await rejection(loadKeyFileSigner(path, secretsOf(PASS)));
    expect(err.code).toBe('KEY');
    expect(everythingShown(err)).not.toContain(PASS);
  });

  it('a consistent header with a private key of another key → KEY after decryption', async () => {
    // Encrypt B's private key under A's header: the AAD matches, the key check must catch it.
    const a = await pair('ed25519', 0);
    const b = await pair('ed25519', 1);
    const salt = randomBytes(32);
    const iv = randomBytes(12);
    const header = {
      tufa_key: 1,
      keyid: a.key.keyid(),
      key: a.key.toJSON(),
      kdf: { name: 'scrypt', salt: salt.toString('base64'), N: 1024, r: 8, p: 1 },
      cipher: { name: 'aes-256-gcm', iv: iv.toString('base64') },
    };
    const c = createCipheriv('aes-256-gcm', scryptSync(PASS, salt, 32, { N: 1024, r: 8, p: 1 }), iv);
    c.setAAD(canonicalBytes(header));
    const ct = Buffer.concat([
      c.update(createPrivateKey(b.privateKeyPem).export({ type: 'pkcs8', format: 'der' })),
      c.final(),
    ]);
    const doc = {
      ...header,
      cipher: { ...header.cipher, tag: c.getAuthTag().toString('base64') },
      ciphertext: ct.toString('base64'),
    };
    const path = join(await tempDir(), 'k.json');
    await writeFile(path, JSON.stringify(doc));
    const err = await rejection(loadKeyFileSigner(path, secretsOf(PASS)));
    expect(err.code).toBe('KEY');
    expect(err.message).toContain('does not match');
  });

  const HOSTILE: [string, Record<string, unknown>][] = [
    ['N = 2^30', { N: 2 ** 30 }],
    ['N = 2^21', { N: 2 ** 21 }],
    ['N not a power of two', { N: 3000 }],
    ['N below 2^10', { N: 16 }],
    ['N a string', { N: '1024' }],
    ['N a fraction-free huge integer', { N: 2 ** 52 }],
    ['r huge', { r: 1_000_000 }],
    ['p huge', { p: 1_000_000 }],
    ['r·N over 1 GiB', { N: 2 ** 20, r: 16 }],
    ['N·r·p too costly', { N: 2 ** 20, r: 8, p: 16 }],
    ['r zero', { r: 0 }],
    ['salt too short', { salt: Buffer.alloc(8).toString('base64') }],
  ];

  it.each(HOSTILE)('kdf %s is refused before asking for a passphrase or deriving', async (_name, patch) => {
    const path = join(await tempDir(), 'k.json');
    await writeKeyFile(path, await pair('ed25519'), PASS, FAST);
    const doc = await readJson(path);
    Object.assign(doc['kdf'] as Doc, patch);
    await writeFile(path, JSON.stringify(doc));
    const secrets = secretsOf(PASS);
    const err = await rejection(loadKeyFileSigner(path, secrets));
    expect(err.code).toBe('KEY');
    expect(secrets.requests).toEqual([]); // validation precedes the prompt and the derivation
    expect(err.message).toMatch(/scrypt|salt/);
  });

  it('refuses a file that is not a key file', async () => {
    const dir = await tempDir();
    const cases: [string, string | Buffer][] = [
      ['a.json', 'not json'],
      ['b.json', '{"tufa_key":1,"tufa_key":1}'],
      ['c.json', '[]'],
      ['d.json', '{"keyid":"x"}'],
      ['e.json', Buffer.alloc(70_000, 0x20)],
    ];
    for (const [name, content] of cases) {
      await writeFile(join(dir, name), content);
      const err = await rejection(readKeyFile(join(dir, name)));
      expect(err.code, name).toBe('KEY');
    }
    expect((await rejection(readKeyFile(join(dir, 'missing.json')))).code).toBe('STORAGE');
    expect((await rejection(readKeyFile(dir))).code).toBe('STORAGE');
  });
});

describe('key files: writing', () => {
  it('refuses to overwrite unless asked', async () => {
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, await pair('ed25519', 0), PASS, FAST);
    const before = await readFile(path, 'utf8');
    const err = await rejection(writeKeyFile(path, await pair('ed25519', 1), PASS, FAST));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('already exists');
    expect(await readFile(path, 'utf8')).toBe(before);
    expect(await listDir(dir)).toEqual(['k.json']);

    await writeKeyFile(path, await pair('ed25519', 1), PASS, { ...FAST, overwrite: true });
    expect((await readKeyFile(path)).keyid).toBe((await pair('ed25519', 1)).key.keyid());
    if (POSIX) expect(await modeOf(path)).toBe(0o600);
    expect(await listDir(dir)).toEqual(['k.json']);
  });

  it('creates a missing directory with mode 0700', async () => {
    const dir = await tempDir();
    const path = join(dir, 'keys', 'k.json');
    await writeKeyFile(path, await pair('ed25519'), PASS, FAST);
    if (POSIX) expect(await modeOf(join(dir, 'keys'))).toBe(0o700);
  });

  it('writes in clear only when asked explicitly', async () => {
    const kp = await pair('ecdsa-p256');
    for (const bad of ['', undefined, null, {}, { unencrypted: false }, { unencrypted: 'yes' }]) {
      const err = await rejection(encodeKeyFile(kp, bad as never, FAST));
      expect(err.code).toBe('USAGE');
    }
    const path = join(await tempDir(), 'clear.json');
    await writeKeyFile(path, kp, { unencrypted: true });
    if (POSIX) expect(await modeOf(path)).toBe(0o600);
    const doc = await readJson(path);
    expect(Object.keys(doc)).toEqual(['tufa_key', 'keyid', 'key', 'unencrypted', 'private_pkcs8']);
    expect(doc['unencrypted']).toBe(true);
    expect((await readKeyFile(path)).encrypted).toBe(false);
    const secrets = secretsOf('unused');
    await expectSigns(await loadKeyFileSigner(path, secrets));
    expect(secrets.requests).toEqual([]);
  });

  it('checks an unencrypted file’s private key against its public key', async () => {
    const path = join(await tempDir(), 'clear.json');
    await writeKeyFile(path, await pair('ed25519', 0), { unencrypted: true });
    const other = JSON.parse(
      new TextDecoder().decode(await encodeKeyFile(await pair('ed25519', 1), { unencrypted: true })),
    ) as Doc;
    const doc = await readJson(path);
    doc['private_pkcs8'] = other['private_pkcs8'];
    await writeFile(path, JSON.stringify(doc));
    const err = await rejection(loadKeyFileSigner(path, secretsOf('')));
    expect(err.code).toBe('KEY');
    expect(err.message).toContain('does not match');
  });

  it('refuses out-of-range scrypt costs', async () => {
    for (const scryptN of [2 ** 9, 2 ** 21, 1000, 2 ** 30]) {
      expect((await rejection(encodeKeyFile(await pair('ed25519'), PASS, { scryptN }))).code).toBe('USAGE');
    }
  });
});

describe('key files: changing the passphrase', () => {
  it('re-encrypts under the new passphrase, keeping the keyid and mode', async () => {
    const dir = await tempDir();
    const path = join(dir, 'k.json');
    const kp = await pair('ecdsa-p256');
    await writeKeyFile(path, kp, 'old pass', FAST);
    const before = await readJson(path);
    const info = await changePassphrase(path, 'old pass', 'new pass', FAST);
    expect(info).toEqual({ key: kp.key, keyid: kp.key.keyid(), encrypted: true });
    const after = await readJson(path);
    expect(after['kdf']).not.toEqual(before['kdf']);
    if (POSIX) expect(await modeOf(path)).toBe(0o600);
    expect(await listDir(dir)).toEqual(['k.json']);
    expect((await rejection(loadKeyFileSigner(path, secretsOf('old pass')))).code).toBe('KEY');
    await expectSigns(await loadKeyFileSigner(path, secretsOf('new pass')));
  });

  it('a wrong old passphrase leaves the file unchanged', async () => {
    const path = join(await tempDir(), 'k.json');
    await writeKeyFile(path, await pair('ed25519'), 'old pass', FAST);
    const before = await readFile(path, 'utf8');
    const err = await rejection(changePassphrase(path, 'not it', 'new pass', FAST));
    expect(err.code).toBe('KEY');
    expect(everythingShown(err)).not.toMatch(/not it|new pass|old pass/);
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('goes to clear and back only explicitly', async () => {
    const path = join(await tempDir(), 'k.json');
    await writeKeyFile(path, await pair('ed25519'), 'pw', FAST);
    expect((await rejection(changePassphrase(path, 'pw', '', FAST))).code).toBe('USAGE');
    await changePassphrase(path, 'pw', { unencrypted: true });
    expect((await readKeyFile(path)).encrypted).toBe(false);
    await changePassphrase(path, undefined, 'pw2', FAST);
    expect((await readKeyFile(path)).encrypted).toBe(true);
    await expectSigns(await loadKeyFileSigner(path, secretsOf('pw2')));
  });
});

describe('key files: from bytes', () => {
  it('signs with the key in the bytes of a key file, and refuses a wrong passphrase', async () => {
    const kp = await pair('ed25519');
    const bytes = await encodeKeyFile(kp, PASS, FAST);
    const signer = await keyFileBytesSigner(bytes, async () => PASS, 'row 7');
    await expectSigns(signer);
    expect(signer.key.keyid()).toBe(kp.key.keyid());
    await expect(keyFileBytesSigner(bytes, async () => 'wrong', 'row 7')).rejects.toMatchObject({
      code: 'KEY',
    });
    await expect(
      keyFileBytesSigner(new TextEncoder().encode('{}'), async () => PASS, 'row 7'),
    ).rejects.toMatchObject({
      code: 'KEY',
    });
  });
});
