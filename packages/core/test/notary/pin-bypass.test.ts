/**
 * A pinned Notary root key anchors trust only through its own signature: a server that sends a
 * root listing the pinned keyid next to an attacker's key, signed only by the attacker, must be
 * refused (found in review: the pin was once checked for presence only).
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/json/canonical.js';
import { notaryKeyId, readNotaryCollection } from '../../src/notary/index.js';

const dir = new URL('../../../../test-vectors/notary/attacker/', import.meta.url);
const PINNED = 'e4b61e8119ac487e5790cfa0f54103803551bf6bc288c5553c237a0353544f79';

function attackerCollection(rootKeyids: (kid: string) => string[]) {
  const priv = createPrivateKey(readFileSync(new URL('evil.key', dir)));
  const pub = readFileSync(new URL('evil.crt', dir)).toString('base64');
  const kid = notaryKeyId('ecdsa-x509', pub);
  const exp = '2099-01-01T00:00:00Z';
  const env = (signed: object) => {
    const sig = sign('sha256', canonicalBytes(signed), { key: priv, dsaEncoding: 'ieee-p1363' }).toString(
      'base64',
    );
    return new Uint8Array(
      Buffer.from(JSON.stringify({ signed, signatures: [{ keyid: kid, method: 'ecdsa', sig }] })),
    );
  };
  const role = (ids: string[]) => ({ keyids: ids, threshold: 1 });
  const fm = (b: Uint8Array) => ({
    length: b.length,
    hashes: { sha256: createHash('sha256').update(b).digest('base64') },
  });
  const root = env({
    _type: 'Root',
    version: 1,
    expires: exp,
    consistent_snapshot: false,
    keys: { [kid]: { keytype: 'ecdsa-x509', keyval: { private: null, public: pub } } },
    roles: {
      root: role(rootKeyids(kid)),
      targets: role([kid]),
      snapshot: role([kid]),
      timestamp: role([kid]),
    },
  });
  const targets = env({
    _type: 'Targets',
    version: 1,
    expires: exp,
    targets: { latest: fm(Buffer.from('malware')) },
  });
  const snapshot = env({
    _type: 'Snapshot',
    version: 1,
    expires: exp,
    meta: { root: fm(root), targets: fm(targets) },
  });
  const timestamp = env({ _type: 'Timestamp', version: 1, expires: exp, meta: { snapshot: fm(snapshot) } });
  const files = new Map([
    ['root.json', root],
    ['1.root.json', root],
    ['timestamp.json', timestamp],
    ['snapshot.json', snapshot],
    ['targets.json', targets],
  ]);
  return {
    description: 'attacker',
    versionedRoots: true,
    hashedNames: false,
    read: async (n: string) => files.get(n),
  };
}

describe('Notary trust pinning', () => {
  it('refuses a root that lists the pinned key but is signed only by another key', async () => {
    const source = attackerCollection((kid) => [PINNED, kid]);
    await expect(
      readNotaryCollection(source, {
        gun: 'example.com/notary/app',
        asOf: new Date('2030-01-01T00:00:00Z'),
        rootKeyIds: [PINNED],
      }),
    ).rejects.toMatchObject({ code: 'THRESHOLD' });
  });

  it('accepts the same collection only when the attacker key itself is what the user pinned', async () => {
    const source = attackerCollection((kid) => [kid]);
    const pub = readFileSync(new URL('evil.crt', dir)).toString('base64');
    const kid = notaryKeyId('ecdsa-x509', pub);
    const c = await readNotaryCollection(source, {
      gun: 'example.com/notary/app',
      asOf: new Date('2030-01-01T00:00:00Z'),
      rootKeyIds: [kid],
    });
    expect(c.trustAnchor).toBe('pinned-key');
  });
});
