/**
 * The error tree: every class constructs exactly one code, `instanceof` and `code` agree, and the
 * category separates untrusted data from transport failures without a table of codes.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import {
  errorCategory,
  FetchError,
  httpStatusError,
  isCertificateError,
  NotFoundError,
  TufError,
  type TufErrorCode,
} from '../src/errors.js';

describe('error classes', () => {
  const classes = Object.entries(errors).filter(
    ([name, v]) => typeof v === 'function' && /^[A-Z]\w*Error$/.test(name) && v !== TufError,
  ) as [string, new (...args: never[]) => TufError][];

  it('every exported class extends TufError and carries its own name', () => {
    expect(classes.length).toBeGreaterThan(15);
    for (const [name, C] of classes) {
      expect(C.prototype, name).toBeInstanceOf(TufError);
    }
  });

  it('classes sharing a code are subclasses of one of them (CorruptStateError of StorageError)', () => {
    const byCode = new Map<string, [string, abstract new (...a: never[]) => unknown][]>();
    for (const [name, C] of classes) {
      const e = new (C as unknown as new (...a: unknown[]) => TufError)('m', 'x', 'y');
      expect(e.name).toBe(name);
      byCode.set(e.code, [...(byCode.get(e.code) ?? []), [name, C]]);
    }
    for (const [code, list] of byCode) {
      const base = list.find(([, B]) => list.every(([, C]) => C === B || C.prototype instanceof B));
      expect(base, `${code}: ${list.map(([n]) => n).join(', ')}`).toBeDefined();
    }
  });

  it.each([
    [404, NotFoundError, 'NOT_FOUND', 'not-found'],
    [410, NotFoundError, 'NOT_FOUND', 'not-found'],
    [403, NotFoundError, 'NOT_FOUND', 'not-found'],
    [401, FetchError, 'FETCH', 'transport'],
    [500, FetchError, 'FETCH', 'transport'],
  ] as const)('an HTTP %i is a %o with code %s', (status, C, code, category) => {
    const e = httpStatusError('x: HTTP', status);
    expect(e).toBeInstanceOf(C);
    expect(e.code).toBe(code);
    expect(e.category).toBe(category);
    expect((e as { status?: number }).status).toBe(status);
  });

  it('a FetchError is FETCH whatever its status: instanceof and code agree', () => {
    expect(new FetchError('x', 404).code).toBe('FETCH');
  });
});

describe('categories', () => {
  it.each([
    ['THRESHOLD', 'untrusted'],
    ['ROLLBACK', 'untrusted'],
    ['LENGTH_OR_HASH', 'untrusted'],
    ['FORMAT', 'untrusted'],
    ['DOWNLOAD_LIMIT', 'untrusted'],
    ['ROOT_NOT_IN_CHAIN', 'untrusted'],
    ['FETCH', 'transport'],
    ['TIMEOUT', 'transport'],
    ['CREDENTIALS_REFUSED', 'transport'],
    ['NOT_FOUND', 'not-found'],
    ['STORAGE', 'local'],
    ['CONFLICT', 'local'],
    ['USAGE', 'usage'],
  ] as [TufErrorCode, string][])('%s is %s', (code, category) => {
    expect(errorCategory(code)).toBe(category);
    expect(new TufError(code, 'm').category).toBe(category);
  });
});

describe('isCertificateError', () => {
  const withCode = (code: string) => Object.assign(new Error('tls'), { code });
  it("finds the TLS library's certificate refusal a few causes down", () => {
    for (const code of [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      expect(isCertificateError(new FetchError('cannot fetch', undefined, { cause: withCode(code) }))).toBe(
        true,
      );
    }
    const deep = new Error('a', { cause: new Error('b', { cause: withCode('CERT_HAS_EXPIRED') }) });
    expect(isCertificateError(deep)).toBe(true);
  });
  it('is false for other failures, and for a cause too deep to be this request', () => {
    expect(
      isCertificateError(new FetchError('refused', undefined, { cause: withCode('ECONNREFUSED') })),
    ).toBe(false);
    expect(isCertificateError('CERT_HAS_EXPIRED')).toBe(false);
    let e: Error = withCode('CERT_HAS_EXPIRED');
    for (let i = 0; i < 5; i++) e = new Error(`wrap ${i}`, { cause: e });
    expect(isCertificateError(e)).toBe(false);
  });
});
