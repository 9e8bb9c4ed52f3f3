import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/json/canonical.js';
import { Metadata } from '../../src/metadata/metadata.js';
import type { Root, Targets } from '../../src/metadata/signed.js';

const dir = new URL('../../../../test-vectors/python-tuf/repository/metadata/', import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('python-tuf repository vectors', () => {
  it('has the files we expect', () => {
    expect(files.length).toBe(16);
  });

  for (const f of files) {
    it(`${f} parses and re-serialises byte for byte`, () => {
      const bytes = read(f);
      const md = Metadata.fromBytes(bytes);
      expect(new TextDecoder().decode(md.toBytes('pretty'))).toBe(new TextDecoder().decode(bytes));
      // The canonical bytes of the re-built model equal those of what was received.
      const rebuilt = new Metadata(md.signed, md.signatures.values());
      expect(rebuilt.signedBytes()).toEqual(md.signedBytes());
    });
  }

  it('verifies the root chain 1 → 2 → 3 with the old and the new thresholds', async () => {
    const r1 = Metadata.fromBytes(read('1.root.json'), 'root');
    const r2 = Metadata.fromBytes(read('2.root.json'), 'root');
    const r3 = Metadata.fromBytes(read('3.root.json'), 'root');
    await r1.verifyDelegate('root', r1);
    await r1.verifyDelegate('root', r2);
    await r2.verifyDelegate('root', r2);
    await r2.verifyDelegate('root', r3);
    await r3.verifyDelegate('root', r3);
    // The key types used by the root keys across the chain.
    const types = new Set([r1, r2, r3].flatMap((r) => [...r.signed.keys.values()].map((k) => k.keytype)));
    expect(types).toEqual(new Set(['ed25519', 'ecdsa', 'rsa']));
  });

  it('verifies every top-level and delegated role against its delegator', async () => {
    const root = Metadata.fromBytes(read('3.root.json'), 'root') as Metadata<Root>;
    const ts = Metadata.fromBytes(read('timestamp.json'), 'timestamp');
    const sn = Metadata.fromBytes(read('1.snapshot.json'), 'snapshot');
    const targets = Metadata.fromBytes(read('1.targets.json'), 'targets') as Metadata<Targets>;
    await root.verifyDelegate('timestamp', ts);
    await root.verifyDelegate('snapshot', sn);
    await root.verifyDelegate('targets', targets);
    await ts.signed.snapshotMeta.verifyLengthAndHashes(read('1.snapshot.json'), 'snapshot');
    for (const role of targets.signed.delegations?.roles ?? []) {
      const md = Metadata.fromBytes(read(`1.${role.name}.json`), 'targets') as Metadata<Targets>;
      await targets.verifyDelegate(role.name, md);
      const succinct = md.signed.delegations?.succinctRoles;
      if (succinct) {
        for (const bin of succinct.getRoles()) {
          await md.verifyDelegate(bin, Metadata.fromBytes(read(`1.${bin}.json`), 'targets'));
        }
      }
    }
  });

  it('puts every hashed target in the bin its path hash names', () => {
    const hashed = Metadata.fromBytes(read('1.hashed.json'), 'targets');
    const succinct = hashed.signed.delegations?.succinctRoles;
    expect(succinct).toBeDefined();
    for (const bin of succinct?.getRoles() ?? []) {
      const md = Metadata.fromBytes(read(`1.${bin}.json`), 'targets');
      for (const path of md.signed.targets.keys()) expect(succinct?.getRoleForTarget(path)).toBe(bin);
    }
  });

  it('rejects a signature over anything but the received signed bytes', async () => {
    const root = Metadata.fromBytes(read('3.root.json'), 'root');
    const text = new TextDecoder().decode(read('1.targets.json')).replace('"length": 9', '"length": 10');
    const tampered = Metadata.fromBytes(new TextEncoder().encode(text), 'targets');
    await expect(root.verifyDelegate('targets', tampered)).rejects.toMatchObject({ code: 'THRESHOLD' });
  });
});

describe('canonical file bytes', () => {
  it('splices the signed bytes exactly as encoding the whole envelope would', () => {
    for (const f of files) {
      const md = Metadata.fromBytes(read(f));
      const canonical = md.toBytes('canonical');
      expect(canonical).toEqual(canonicalBytes(md.toJSON()));
      // Canonical JSON keeps control characters raw (PEM newlines): valid JSON only without them.
      if (!canonical.some((b) => b < 0x20))
        expect(Metadata.fromBytes(canonical).signedBytes()).toEqual(md.signedBytes());
    }
  });
});
