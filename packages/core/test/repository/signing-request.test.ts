import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { Repository } from '../../src/repository/repository.js';
import {
  describeSigned,
  mergeSigningRequests,
  signingRequestFromBytes,
  signingRequestStatus,
  signingRequestToBytes,
  signSigningRequest,
} from '../../src/repository/signing-request.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
let storage: MemoryRepositoryStorage;
let online: PrivateKeySigner[];
const [A, B, C, D] = [fixedSigner(201), fixedSigner(202), fixedSigner(203), fixedSigner(204)];

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  online = [fixedSigner(210), fixedSigner(211), fixedSigner(212)];
  const repo = await Repository.create(storage, {
    keys: {
      root: [A.key, B.key, C.key],
      targets: [online[0]!.key],
      snapshot: [online[1]!.key],
      timestamp: [online[2]!.key],
    },
    thresholds: { root: 2 },
    signers: [A, B, ...online],
    now: () => NOW,
  });
  await repo.publish();
});

/** A file passed between machines: bytes out, bytes in. */
const carry = (r: Parameters<typeof signingRequestToBytes>[0]) =>
  signingRequestFromBytes(signingRequestToBytes(r));

describe('offline root signing ceremony', () => {
  it('rotates a 2-of-3 root key with signatures gathered on different machines', async () => {
    const repo = await Repository.open(storage, { signers: online, now: () => NOW });
    repo.rotateKeys('root', { add: [D.key], remove: [C.keyid] });
    const request = carry(await repo.createSigningRequest('root'));
    expect(request.changes).toEqual(
      expect.arrayContaining([
        `root: add key ${D.keyid} (ed25519)`,
        `root: remove key ${C.keyid}`,
        'version 1 -> 2',
      ]),
    );
    expect(request.required.map((r) => r.by)).toEqual(['root version 1', 'root version 2 (new)']);

    // Three key holders sign copies of the same request, each offline.
    const byA = carry(await signSigningRequest(carry(request), A));
    const byD = carry(await signSigningRequest(carry(request), D));
    const status1 = await signingRequestStatus(await mergeSigningRequests(byD, byA));
    expect(status1.map((s) => s.verified)).toEqual([false, true]);
    const byB = carry(await signSigningRequest(carry(request), B));
    const merged = await mergeSigningRequests(byB, byD, byA);
    const status = await signingRequestStatus(merged);
    expect(status.map((s) => s.verified)).toEqual([true, true]);
    expect(status[0]?.signed.sort()).toEqual([A.keyid, B.keyid].sort());
    expect(status[0]?.unsigned).toEqual([C.keyid]);

    const publisher = await Repository.open(storage, { signers: online, now: () => NOW });
    publisher.applySigningRequest(merged);
    const r = await publisher.publish();
    expect(r.written).toContain('metadata/2.root.json');
    const { updater, store } = await client(storage, { now: NOW });
    await updater.refresh();
    expect(new TextDecoder().decode(await store.read('root'))).toContain(D.keyid);
  });

  it('refuses to publish a request that misses a threshold', async () => {
    const repo = await Repository.open(storage, { signers: online, now: () => NOW });
    repo.rotateKeys('root', { add: [D.key], remove: [C.keyid] });
    const request = await signSigningRequest(await repo.createSigningRequest('root'), D);
    const publisher = await Repository.open(storage, { signers: online, now: () => NOW });
    publisher.applySigningRequest(request);
    await expect(publisher.publish()).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('keeps a valid signature over a junk one when merging, in either order', async () => {
    const repo = await Repository.open(storage, { signers: online, now: () => NOW });
    const request = await repo.createSigningRequest('root');
    const good = await signSigningRequest(carry(request), A);
    const junk = carry(request);
    const { Signature } = await import('../../src/crypto/signature.js');
    junk.metadata.signatures.set(A.keyid, new Signature(A.keyid, 'ab'.repeat(64)));
    for (const merged of [await mergeSigningRequests(junk, good), await mergeSigningRequests(good, junk)]) {
      const [old] = await signingRequestStatus(merged);
      expect(old?.signed).toContain(A.keyid);
    }
  });

  it('reads what is signed from the metadata, not from the claims around it', async () => {
    const repo = await Repository.open(storage, { signers: online, now: () => NOW });
    repo.rotateKeys('root', { add: [D.key], remove: [C.keyid] });
    const request = await repo.createSigningRequest('root');
    // An attacker edits the unsigned parts of the file: the summary and who must sign.
    const text = new TextDecoder()
      .decode(signingRequestToBytes(request))
      .replace(`"root: add key ${D.keyid} (ed25519)"`, '"nothing to see"')
      .replace(/"threshold": 2,\n {3}"keyids"/, '"threshold": 1,\n   "keyids"');
    const tampered = signingRequestFromBytes(new TextEncoder().encode(text));
    expect(tampered.changes).not.toContain(`root: add key ${D.keyid} (ed25519)`);
    expect(describeSigned(tampered.metadata.signed as never).join('\n')).toContain(D.keyid);
    const previous = (await Repository.open(storage)).rootMetadata.signed;
    const byA = await signSigningRequest(tampered, A);
    const status = await signingRequestStatus(byA, { previous });
    expect(status.map((s) => [s.role, s.threshold, s.verified, s.claimed])).toEqual([
      ['root version 1', 2, false, false],
      ['root version 2 (new)', 2, false, false],
    ]);
  });

  it('refuses a signer the request does not name', async () => {
    const repo = await Repository.open(storage, { signers: online, now: () => NOW });
    const request = await repo.createSigningRequest('root');
    await expect(signSigningRequest(request, fixedSigner(250))).rejects.toMatchObject({ code: 'KEY' });
  });

  it('refuses to merge requests for different metadata', async () => {
    const r1 = await (
      await Repository.open(storage, { signers: online, now: () => NOW })
    ).createSigningRequest('root');
    const later = new Date(NOW.getTime() + 1000);
    const r2 = await (
      await Repository.open(storage, { signers: online, now: () => later })
    ).createSigningRequest('root');
    await expect(mergeSigningRequests(r1, r2)).rejects.toMatchObject({ code: 'BAD_VALUE' });
  });

  it('detects a request whose metadata was altered after its hash was taken', async () => {
    const request = await (
      await Repository.open(storage, { signers: online, now: () => NOW })
    ).createSigningRequest('root');
    const text = new TextDecoder()
      .decode(signingRequestToBytes(request))
      .replace('"threshold": 2', '"threshold": 1');
    expect(() => signingRequestFromBytes(new TextEncoder().encode(text))).toThrow(
      expect.objectContaining({ code: 'FORMAT' }),
    );
  });

  it('refuses a signed request that is stale because the repository moved on', async () => {
    const repo = await Repository.open(storage, { signers: [A, B, ...online], now: () => NOW });
    const request = await repo.createSigningRequest('root');
    const other = await Repository.open(storage, { signers: [A, B, ...online], now: () => NOW });
    other.rotateKeys('root', { threshold: 2 });
    await other.publish();
    const publisher = await Repository.open(storage, { signers: online, now: () => NOW });
    publisher.applySigningRequest(request);
    await expect(publisher.publish()).rejects.toMatchObject({ code: 'USAGE' });
  });
});
