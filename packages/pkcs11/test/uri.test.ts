/** RFC 7512 URIs: the RFC's own examples, refusals, round trips, and PIN detection. */
import { redactUri } from '@tufa/core/node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPkcs11Uri, type Pkcs11Uri, parsePkcs11Uri, uriHasPinValue } from '../src/uri.js';

describe('parsePkcs11Uri', () => {
  it('reads the examples of RFC 7512 section 3', () => {
    expect(parsePkcs11Uri('pkcs11:')).toEqual({});
    expect(parsePkcs11Uri('pkcs11:object=my-pubkey;type=public')).toEqual({
      object: 'my-pubkey',
      type: 'public',
    });
    expect(parsePkcs11Uri('pkcs11:object=my-key;type=private?pin-source=file:/etc/token')).toEqual({
      object: 'my-key',
      type: 'private',
      pinSource: 'file:/etc/token',
    });
    expect(
      parsePkcs11Uri(
        'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin',
      ),
    ).toEqual({
      token: 'The Software PKCS#11 Softtoken',
      manufacturer: 'Snake Oil, Inc.',
      model: '1.0',
      object: 'my-certificate',
      type: 'cert',
      id: new Uint8Array([0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91]),
      serial: '',
      pinSource: 'file:/etc/token_pin',
    });
    expect(parsePkcs11Uri('pkcs11:object=my-sign-key;type=private?module-name=mypkcs11')).toMatchObject({
      moduleName: 'mypkcs11',
    });
    expect(
      parsePkcs11Uri('pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1'),
    ).toMatchObject({ modulePath: '/mnt/libmypkcs11.so.1' });
    expect(
      parsePkcs11Uri(
        'pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin',
      ),
    ).toEqual({ token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.', pinValue: 'the-pin' });
    expect(parsePkcs11Uri('pkcs11:slot-description=Sun%20Metaslot')).toEqual({
      slotDescription: 'Sun Metaslot',
    });
    expect(
      parsePkcs11Uri(
        'pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23',
      ),
    ).toEqual({
      libraryManufacturer: 'Snake Oil, Inc.',
      libraryDescription: 'Soft Token Library',
      libraryVersion: { major: 1, minor: 23 },
    });
    expect(
      parsePkcs11Uri('pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert'),
    ).toMatchObject({
      token: 'A name with a substring %;',
    });
    expect(
      parsePkcs11Uri(
        'pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert',
      ),
    ).toMatchObject({ token: 'Name with a small A with acute: á' });
    expect(parsePkcs11Uri('pkcs11:slot-id=2434;library-version=1')).toEqual({
      slotId: 2434n,
      libraryVersion: { major: 1 },
    });
  });

  it('is lenient where it is safe: literal spaces, an empty trailing attribute, the scheme in capitals', () => {
    expect(parsePkcs11Uri('PKCS11:token=My Token;')).toEqual({ token: 'My Token' });
    // A YubiKey's label has a #, which would start a fragment: it must be written %23.
    expect(() => parsePkcs11Uri('pkcs11:token=YubiKey PIV #123')).toThrow(/percent-encode # as %23/);
  });

  it.each([
    ['pkcs11:token=a;token=b', /the attribute token appears twice/],
    ['pkcs11:vendor-aaa=value-a', /unknown attribute vendor-aaa/],
    ['pkcs11:token=a?vendor-bbb=value-b', /unknown query attribute vendor-bbb/],
    ['pkcs11:token=a;pin-value=1234', /pin-value is a query attribute/],
    ['pkcs11:token=a?token=b', /token is a path attribute/],
    ['pkcs11:token=a%2', /a % must be followed by two hex digits/],
    ['pkcs11:token=%ff', /token is not UTF-8/],
    ['pkcs11:token=a%00b', /contains NUL/],
    ['pkcs11:token=a\tb', /control characters/],
    ['pkcs11:type=secret', /type must be one of/],
    ['pkcs11:id=', /id must not be empty/],
    ['pkcs11:slot-id=0x10', /slot-id must be a decimal number/],
    ['pkcs11:slot-id=18446744073709551616', /slot-id is too large/],
    ['pkcs11:library-version=1.2.3', /library-version must be M or M.m/],
    ['pkcs11:token', /expected NAME=VALUE/],
    ['pkcs11:token=a#frag', /no fragment/],
    ['pkcs11:token=a/b', /percent-encode \/ as %2F/],
    ['pkcs11:?module-path=/a.so&module-name=a', /not both/],
    ['pkcs11:?pin-value=1&pin-source=file:/p', /not both/],
    ['pkcs11:?pin=1234', /the PIN attribute is pin-value/],
    ['file:/key.json', /must start with pkcs11:/],
  ])('refuses %s', (uri, message) => {
    expect(() => parsePkcs11Uri(uri)).toThrow(message);
    try {
      parsePkcs11Uri(uri);
    } catch (e) {
      expect(e).toMatchObject({ name: 'UsageError', code: 'USAGE' });
    }
  });

  it('never echoes a PIN in its errors', () => {
    expect(() => parsePkcs11Uri('pkcs11:token=a;bogus=1?pin-value=S3CRET')).toThrow(
      /^invalid PKCS#11 URI pkcs11:token=a;bogus=1: unknown attribute bogus/,
    );
    let message = '';
    try {
      parsePkcs11Uri('pkcs11:token=a;bogus=1?pin-value=S3CRET');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toContain('S3CRET');
  });
});

describe('formatPkcs11Uri', () => {
  it('writes ids as percent-encoded bytes, module paths with literal slashes, and never pin-value', () => {
    expect(
      formatPkcs11Uri({
        token: 'YubiKey PIV #15',
        serial: '15',
        object: 'PIV AUTH key',
        type: 'private',
        id: new Uint8Array([1]),
        modulePath: '/usr/lib/x86_64-linux-gnu/libykcs11.so',
        pinValue: '123456',
      }),
    ).toBe(
      'pkcs11:token=YubiKey%20PIV%20%2315;serial=15;object=PIV%20AUTH%20key;type=private;id=%01?module-path=/usr/lib/x86_64-linux-gnu/libykcs11.so',
    );
  });

  it('round-trips through parsePkcs11Uri', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    fc.assert(
      fc.property(
        fc.record(
          {
            token: text,
            serial: text,
            object: text,
            id: fc.uint8Array({ minLength: 1, maxLength: 20 }),
            slotId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            modulePath: text.filter((s) => s !== '').map((s) => `/lib/${s}.so`),
            pinSource: text.filter((s) => s !== '').map((s) => `file:/run/${encodeURIComponent(s)}`),
          },
          { requiredKeys: [] },
        ),
        (parts) => {
          const p = parts as Pkcs11Uri;
          fc.pre(![p.token, p.serial, p.object].some((s) => s?.includes('\0')));
          const uri = formatPkcs11Uri(p);
          expect(parsePkcs11Uri(uri)).toEqual(p);
          expect(formatPkcs11Uri(parsePkcs11Uri(uri))).toBe(uri);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('uriHasPinValue', () => {
  it.each([
    ['pkcs11:token=a?pin-value=1234', true],
    ['pkcs11:token=a?module-path=/x.so&pin-value=', true],
    ['pkcs11:token=a;pin-value=1234', true],
    ['pkcs11:token=a?PIN-VALUE=1234', true],
    ['pkcs11:token=a?pin%2Dvalue=1234', true],
    ['pkcs11:token=a?pin=1234', true],
    ['pkcs11:token=a?pin-source=file:/run/pin', false],
    ['pkcs11:object=pin-value;token=a', false],
    ['pkcs11:token=a', false],
  ])('%s → %s', (uri, expected) => {
    expect(uriHasPinValue(uri)).toBe(expected);
  });

  it("agrees with core's redactUri: whatever it flags, redaction removes", () => {
    for (const uri of [
      'pkcs11:token=a?pin-value=1234',
      'pkcs11:token=a;pin-value=1234',
      'pkcs11:token=a?pin%2Dvalue=1',
    ]) {
      expect(uriHasPinValue(redactUri(uri))).toBe(false);
    }
  });
});
