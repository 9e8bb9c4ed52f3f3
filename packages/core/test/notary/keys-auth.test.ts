/** Notary keys and signatures (ecdsa, rsa and ed25519 as notary-signer makes them), dates, and Docker's token flow. */
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dctList,
  notaryKey,
  notaryKeyId,
  parseNotaryTime,
  rawEcdsaToDer,
  readNotaryCollection,
  tufaSignatureHex,
} from '../../src/notary/index.js';
import { notaryServerSource, parseBearerChallenge } from '../../src/notary/node.js';
import { AS_OF, GUN, serverFiles } from './helpers.js';

const data = new TextEncoder().encode('{"_type":"Timestamp","version":1}');
const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64');

describe('Notary keys', () => {
  it('ecdsa (DER SPKI) with raw r‖s signatures, as notary-signer writes them', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = b64(publicKey.export({ type: 'spki', format: 'der' }));
    const k = notaryKey(notaryKeyId('ecdsa', pub), 'ecdsa', pub);
    expect(k.problem).toBeUndefined();
    expect(k.computedKeyid).toBe(k.keyid);
    const sig = b64(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    const hex = tufaSignatureHex('ecdsa', 'ecdsa', sig) as string;
    expect(await k.key?.verify(data, hex)).toBe(true);
    expect(await k.key?.verify(new TextEncoder().encode('other'), hex)).toBe(false);
    expect(tufaSignatureHex('ecdsa', 'eddsa', sig)).toBeUndefined();
  });

  it('rsa (DER SPKI) with rsapss signatures', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = b64(publicKey.export({ type: 'spki', format: 'der' }));
    const k = notaryKey(notaryKeyId('rsa', pub), 'rsa', pub);
    const sig = b64(
      sign('sha256', data, {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }),
    );
    expect(await k.key?.verify(data, tufaSignatureHex('rsa', 'rsapss', sig) as string)).toBe(true);
  });

  it('ed25519 (raw base64) with eddsa signatures', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    const k = notaryKey('id', 'ed25519', b64(raw));
    expect(
      await k.key?.verify(
        data,
        tufaSignatureHex('ed25519', 'eddsa', b64(sign(null, data, privateKey))) as string,
      ),
    ).toBe(true);
  });

  it('unusable keys are kept with a reason, never thrown', () => {
    expect(notaryKey('x', 'ecdsa', 'not base64!').problem).toMatch(/base64/);
    expect(notaryKey('x', 'dsa', 'AAAA').problem).toMatch(/unsupported/);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(
      notaryKey('x', 'ecdsa', b64(publicKey.export({ type: 'spki', format: 'der' }))).key,
    ).toBeUndefined();
  });

  it('converts r‖s with high bits and leading zeros to minimal DER', () => {
    const raw = new Uint8Array(64);
    raw[0] = 0x80;
    raw[63] = 1;
    const der = Buffer.from(rawEcdsaToDer(raw) as Uint8Array).toString('hex');
    expect(der).toBe(`3026022100${'80'.padEnd(64, '0')}020101`);
    expect(rawEcdsaToDer(new Uint8Array(63))).toBeUndefined();
  });
});

describe('parseNotaryTime', () => {
  it('reads Go RFC 3339 with nanoseconds and offsets', () => {
    expect(parseNotaryTime('2036-11-19T16:56:15.322734157Z', 'x').toISOString()).toBe(
      '2036-11-19T16:56:15.322Z',
    );
    expect(parseNotaryTime('2026-01-01T01:00:00+01:00', 'x').toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(parseNotaryTime('2026-01-01T00:00:00-02:30', 'x').toISOString()).toBe('2026-01-01T02:30:00.000Z');
  });
  it.each([
    '2026-02-30T00:00:00Z',
    '2026-01-01 00:00:00Z',
    'garbage',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:00:00',
  ])('rejects %s', (s) => {
    expect(() => parseNotaryTime(s, 'x')).toThrow();
  });
});

describe('Docker token authentication', () => {
  it('parses Bearer challenges', () => {
    expect(
      parseBearerChallenge(
        'Bearer realm="https://auth.docker.io/token",service="notary.docker.io",scope="repository:docker.io/library/alpine:pull"',
      ),
    ).toEqual({
      realm: 'https://auth.docker.io/token',
      service: 'notary.docker.io',
      scope: 'repository:docker.io/library/alpine:pull',
    });
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
  });

  // A notary-server stand-in serving the committed collection behind Docker's token flow.
  let server: http.Server;
  let base = '';
  const seen: string[] = [];
  beforeAll(async () => {
    const files = serverFiles();
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/token')) {
        seen.push(`token ${url} ${req.headers.authorization ?? ''}`);
        if (req.headers.authorization !== `Basic ${b64(Buffer.from('alice:s3cret'))}`) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"tok-123"}');
        return;
      }
      if (req.headers.authorization !== 'Bearer tok-123') {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="${base}/token",service="notary.test",scope="repository:${GUN}:pull"`,
          })
          .end();
        return;
      }
      const prefix = `/v2/${GUN}/_trust/tuf/`;
      let name = url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : '';
      name = name.replace(/\.[0-9a-f]{64}\.json$/, '.json');
      const body = files.get(name);
      if (!body) res.writeHead(404).end();
      else res.writeHead(200).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('fetches a token from the realm with basic credentials and retries', async () => {
    const src = notaryServerSource(base, GUN, { username: 'alice', password: 's3cret' });
    const c = await readNotaryCollection(src, { gun: GUN, asOf: AS_OF, unsafeTrustOnFirstUse: true });
    expect(dctList(c)).toHaveLength(5);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain('service=notary.test');
    expect(seen[0]).toContain(`scope=repository%3A${encodeURIComponent(GUN).replace(/%2F/g, '%2F')}%3Apull`);
  });

  it('fails with a clear error when the token service refuses', async () => {
    const src = notaryServerSource(base, GUN, { username: 'alice', password: 'wrong' });
    const e = await readNotaryCollection(src, { gun: GUN, asOf: AS_OF, unsafeTrustOnFirstUse: true }).catch(
      (x) => x,
    );
    expect(e.code).toBe('FETCH');
    expect(String(e.message)).not.toContain('wrong');
  });

  it('uses a static Authorization header without the challenge', async () => {
    const src = notaryServerSource(base, GUN, { headers: { Authorization: 'Bearer tok-123' } });
    const before = seen.length;
    await readNotaryCollection(src, { gun: GUN, asOf: AS_OF, unsafeTrustOnFirstUse: true });
    expect(seen.length).toBe(before);
  });
});
