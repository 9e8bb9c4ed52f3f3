/**
 * The Notary reader against the committed collection made by the real notary 0.7 tools
 * (test-vectors/notary): root rotation 1 → 2, a targets/releases delegation, names with `<`,
 * `&` and non-ASCII characters (served with Go's `\u003c` escapes), an ed25519 timestamp key.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TufError } from '../../src/errors.js';
import { dctList, dctLookup, parseNotaryMetadata, readNotaryCollection } from '../../src/notary/index.js';
import { notaryTrustDirSource } from '../../src/notary/node.js';
import { AS_OF, GUN, MemorySource, serverFiles, tamper, trustDirRoot, VECTORS } from './helpers.js';

const ROOT1 = 'e4b61e8119ac487e5790cfa0f54103803551bf6bc288c5553c237a0353544f79';
const ROOT2 = 'c667caff926295162ed4cf7447011cafd10f59375fa68daecb5a71ecfef2103c';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TufError) return e.code;
    throw e;
  }
  throw new Error('expected an error');
}

/** `notary list` output → rows. */
function notaryList(): { name: string; digest: string; size: number; role: string }[] {
  const lines = readFileSync(join(VECTORS, 'notary-list.txt'), 'utf8').trim().split('\n').slice(2);
  return lines.map((l) => {
    const [name, digest, size, role] = l.split(/\s{2,}/);
    return { name: name as string, digest: digest as string, size: Number(size), role: role as string };
  });
}

describe('readNotaryCollection: notary-server data', () => {
  it('verifies the whole collection, walking the root chain from version 1 (TOFU)', async () => {
    const src = new MemorySource(serverFiles());
    const c = await readNotaryCollection(src, { gun: GUN, asOf: AS_OF, unsafeTrustOnFirstUse: true });
    expect(c.trustAnchor).toBe('unsafe-tofu');
    expect(c.rootVersions).toEqual([1, 2]);
    expect(c.root.keyids).toEqual([ROOT2]);
    expect(c.root.certificates[0]?.commonName).toBe(GUN);
    expect(c.roles.map((r) => r.role)).toEqual(['timestamp', 'snapshot', 'targets', 'targets/releases']);
    expect(c.failedRoles).toEqual([]);
    // Fetched by content hash, as the notary client does.
    expect(src.reads.some((n) => /^snapshot\.[0-9a-f]{64}\.json$/.test(n))).toBe(true);
    expect(src.reads.some((n) => /^targets\/releases\.[0-9a-f]{64}\.json$/.test(n))).toBe(true);
  });

  it('lists every (tag, role) pair exactly as `notary list` shows them, and DCT prefers targets/releases', async () => {
    const c = await readNotaryCollection(new MemorySource(serverFiles()), {
      gun: GUN,
      asOf: AS_OF,
      unsafeTrustOnFirstUse: true,
    });
    const all = c.targets.map((t) => ({
      name: t.name,
      digest: t.digest?.slice(7),
      size: t.length,
      role: t.role,
    }));
    for (const row of notaryList()) expect(all).toContainEqual(row);
    const names = dctList(c).map((t) => `${t.name} ${t.role}`);
    expect(names).toEqual([
      'a<b&c> targets',
      'after-rotation targets',
      'release-1 targets/releases',
      'v1 targets/releases',
      'ünïcode-✓ targets',
    ]);
    expect(dctLookup(c, 'v1')?.length).toBe(999);
    expect(dctLookup(c, 'a<b&c>')?.digest).toBe(
      'sha256:1f6fc65d933354e107cb41298291f1bcb981f3d709cd906319d497a7fd29e7c7',
    );
    expect(dctLookup(c, 'nope')).toBeUndefined();
  });

  it('pins by root key id: the chain starts at the first root listing it', async () => {
    const c1 = await readNotaryCollection(new MemorySource(serverFiles()), {
      gun: GUN,
      asOf: AS_OF,
      rootKeyIds: [ROOT1],
    });
    expect([c1.trustAnchor, c1.rootVersions]).toEqual(['pinned-key', [1, 2]]);
    const c2 = await readNotaryCollection(new MemorySource(serverFiles()), {
      gun: GUN,
      asOf: AS_OF,
      rootKeyIds: [ROOT2],
    });
    expect(c2.rootVersions).toEqual([2]);
    expect(
      await codeOf(
        readNotaryCollection(new MemorySource(serverFiles()), {
          gun: GUN,
          asOf: AS_OF,
          rootKeyIds: ['ab'.repeat(32)],
        }),
      ),
    ).toBe('THRESHOLD');
  });

  it('pins by root certificate (PEM)', async () => {
    const root = JSON.parse(readFileSync(join(VECTORS, 'server/2.root.json'), 'utf8'));
    const pem = Buffer.from(root.signed.keys[ROOT2].keyval.public, 'base64').toString('utf8');
    const c = await readNotaryCollection(new MemorySource(serverFiles()), {
      gun: GUN,
      asOf: AS_OF,
      rootCertificates: [pem],
    });
    expect([c.trustAnchor, c.rootVersions]).toEqual(['pinned-certificate', [2]]);
  });

  it('needs exactly one way to trust the first root', async () => {
    expect(
      await codeOf(readNotaryCollection(new MemorySource(serverFiles()), { gun: GUN, asOf: AS_OF })),
    ).toBe('USAGE');
  });

  it('judges expiry at asOf: the 14-day timestamp, then the root certificate after ten years', async () => {
    const src = () => new MemorySource(serverFiles());
    const late = new Date('2026-12-06T17:00:18Z');
    expect(
      await codeOf(readNotaryCollection(src(), { gun: GUN, asOf: late, unsafeTrustOnFirstUse: true })),
    ).toBe('EXPIRED');
    const decade = new Date('2036-11-20T00:00:00Z');
    const e = await readNotaryCollection(src(), {
      gun: GUN,
      asOf: decade,
      unsafeTrustOnFirstUse: true,
    }).catch((x) => x);
    expect(e.code).toBe('THRESHOLD');
    expect(e.message).toMatch(/certificate .* expired/);
    // Before the certificates were issued.
    const early = new Date('2020-01-01T00:00:00Z');
    const e2 = await readNotaryCollection(src(), {
      gun: GUN,
      asOf: early,
      unsafeTrustOnFirstUse: true,
    }).catch((x) => x);
    expect(e2.message).toMatch(/not valid before/);
  });

  it('requires the root certificate CN to be the GUN', async () => {
    const e = await readNotaryCollection(new MemorySource(serverFiles()), {
      gun: 'example.com/notary/other',
      asOf: AS_OF,
      unsafeTrustOnFirstUse: true,
    }).catch((x) => x);
    expect(e.code).toBe('THRESHOLD');
    expect(e.message).toContain('is for "example.com/notary/app"');
  });
});

describe('readNotaryCollection: tampering', () => {
  const read = (files: Map<string, Uint8Array>, trustedRoot?: Uint8Array) =>
    readNotaryCollection(new MemorySource(files), {
      gun: GUN,
      asOf: AS_OF,
      ...(trustedRoot ? { trustedRoot } : { unsafeTrustOnFirstUse: true }),
    });

  it('a changed digest in targets.json fails the snapshot hash', async () => {
    const f = serverFiles();
    tamper(f, 'targets.json', '"length":1234', '"length":1235');
    expect(await codeOf(read(f))).toBe('LENGTH_OR_HASH');
  });

  it('a changed timestamp fails its signature', async () => {
    const f = serverFiles();
    tamper(f, 'timestamp.json', '"version":5', '"version":6');
    expect(await codeOf(read(f))).toBe('THRESHOLD');
  });

  it('a changed snapshot fails the timestamp hash', async () => {
    const f = serverFiles();
    tamper(f, 'snapshot.json', '"version":6', '"version":7');
    expect(await codeOf(read(f))).toBe('LENGTH_OR_HASH');
  });

  it('a changed delegation is reported and its tags are left out; DCT refuses every tag then', async () => {
    const f = serverFiles();
    tamper(f, 'targets/releases.json', '"length":999', '"length":998');
    const c = await read(f);
    expect(c.failedRoles.map((x) => [x.role, x.error.code])).toEqual([
      ['targets/releases', 'LENGTH_OR_HASH'],
    ]);
    expect(c.targets.some((t) => t.role === 'targets/releases')).toBe(false);
    expect(() => dctLookup(c, 'v1')).toThrow(TufError);
    expect(() => dctList(c)).toThrow(TufError);
  });

  it('a root.json swapped for an unsigned edit fails; an older root is a rollback', async () => {
    const f = serverFiles();
    tamper(f, 'root.json', '"version":2', '"version":3');
    expect(await codeOf(read(f))).not.toBe('');
    const g = serverFiles();
    g.set('root.json', g.get('1.root.json') as Uint8Array);
    g.delete('2.root.json');
    expect(await codeOf(read(g, trustDirRoot()))).toBe('ROLLBACK');
  });

  it('a root not signed by the previous root breaks the chain', async () => {
    const f = serverFiles();
    const two = JSON.parse(Buffer.from(f.get('2.root.json') as Uint8Array).toString('utf8'));
    two.signatures = two.signatures.filter((s: { keyid: string }) => s.keyid === ROOT2);
    const bytes = new Uint8Array(Buffer.from(JSON.stringify(two)));
    f.set('2.root.json', bytes);
    f.set('root.json', bytes);
    const e = await read(f).catch((x) => x);
    expect(e.code).toBe('THRESHOLD');
    expect(e.message).toContain('signed by root version 1');
  });
});

describe('readNotaryCollection: a client trust directory', () => {
  it('verifies the cached collection against its own root', async () => {
    const c = await readNotaryCollection(notaryTrustDirSource(join(VECTORS, 'trust'), GUN), {
      gun: GUN,
      asOf: AS_OF,
      trustedRoot: trustDirRoot(),
    });
    expect(c.rootVersions).toEqual([2]);
    expect(dctList(c)).toHaveLength(5);
  });

  it('accepts a newer cached root signed by an older trusted root (no versioned files)', async () => {
    const one = new Uint8Array(readFileSync(join(VECTORS, 'server/1.root.json')));
    const c = await readNotaryCollection(notaryTrustDirSource(join(VECTORS, 'trust'), GUN), {
      gun: GUN,
      asOf: AS_OF,
      trustedRoot: one,
    });
    expect(c.rootVersions).toEqual([1, 2]);
  });
});

describe('parseNotaryMetadata', () => {
  it('signs over canonical bytes with Go escapes decoded (raw <, &, non-ASCII)', () => {
    const raw = readFileSync(join(VECTORS, 'server/targets.json'));
    expect(raw.toString('utf8')).toContain('a\\u003cb\\u0026c\\u003e');
    const env = parseNotaryMetadata(new Uint8Array(raw), 'Targets');
    const canon = Buffer.from(env.signedBytes).toString('utf8');
    expect(canon).toContain('"a<b&c>"');
    expect(canon).toContain('"ünïcode-✓"');
    expect(env.signed.targets.get('a<b&c>')?.length).toBe(1234);
    expect(env.signed.delegations[0]?.paths).toEqual(['']);
  });

  it('rejects the wrong _type and duplicate keys', () => {
    const raw = new Uint8Array(readFileSync(join(VECTORS, 'server/targets.json')));
    expect(() => parseNotaryMetadata(raw, 'Snapshot')).toThrow(/_type/);
    const dup = new TextEncoder().encode('{"signed":{"_type":"Targets","_type":"Targets"},"signatures":[]}');
    expect(() => parseNotaryMetadata(dup, 'Targets')).toThrow(TufError);
  });
});
