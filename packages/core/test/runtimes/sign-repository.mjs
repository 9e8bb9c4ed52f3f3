// The signing half of the runtime tests (issue 16), run inside each runtime (Chromium page and
// Web Worker, Deno, Bun, workerd) with @tufa/core as that runtime resolves it: a key of every
// scheme generated there by MemorySigner, a repository built and signed there (root signed by
// all four keys, threshold 4; each other role by one; timestamp by a CryptoKey the runtime's own
// crypto.subtle made, through MemorySigner.fromCryptoKey), its files returned for the Node side
// to verify (helpers/runtime-signing.ts).
import { keyFromPublicPem, MemoryRepositoryStorage, MemorySigner, Repository, TargetFile } from '@tufa/core';

export const SIGNING_NOW = '2026-06-01T00:00:00Z';
const KINDS = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'];

function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export async function signRepository() {
  try {
    const signers = {};
    for (const kind of KINDS) signers[kind] = await MemorySigner.generate(kind, { rsaBits: 2048 });
    const { ed25519, rsa } = signers;
    const p256 = signers['ecdsa-p256'];
    const p384 = signers['ecdsa-p384'];
    // An application's own WebCrypto key (e.g. read back from IndexedDB), wrapped.
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ]);
    const spki = toBase64(new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey)));
    const pem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g).join('\n')}\n-----END PUBLIC KEY-----\n`;
    const online = await MemorySigner.fromCryptoKey(pair.privateKey, keyFromPublicPem(pem));
    const storage = new MemoryRepositoryStorage();
    const repo = await Repository.create(storage, {
      keys: {
        root: [ed25519.key, p256.key, p384.key, rsa.key],
        targets: [rsa.key],
        snapshot: [p384.key],
        timestamp: [online.key],
      },
      thresholds: { root: 4 },
      signers: [...Object.values(signers), online],
      now: () => new Date(SIGNING_NOW),
    });
    const content = new TextEncoder().encode('signed in the runtime');
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', content));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
    await repo.addTargets([new TargetFile('runtime/app', content.length, new Map([['sha256', hex]]))]);
    await repo.publish();
    const files = {};
    for (const [path, bytes] of storage.files) files[path] = toBase64(bytes);
    // What held each private key: a non-extractable CryptoKey on WebCrypto, a node KeyObject
    // (no CryptoKey) on the Node flavour.
    const held = [...KINDS.map((k) => signers[k]), online].map(({ cryptoKey: ck }) =>
      ck === undefined ? 'other' : ck.extractable ? 'extractable' : 'non-extractable',
    );
    return { ok: true, files, held, content: 'signed in the runtime' };
  } catch (e) {
    return { ok: false, code: e?.code ?? 'NOT_TUF', message: String(e?.message ?? e) };
  }
}
