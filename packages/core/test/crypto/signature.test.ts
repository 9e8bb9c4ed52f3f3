import { describe, expect, it } from 'vitest';
import { Signature } from '../../src/crypto/index.js';
import { FormatError, UsageError } from '../../src/errors.js';
import { canonicalString } from '../../src/json/canonical.js';

function formatErrorPath(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return (e as FormatError).path;
  }
  throw new Error('expected a FormatError');
}

describe('Signature.fromJSON', () => {
  it('reads keyid and sig', () => {
    const s = Signature.fromJSON({ keyid: 'ab', sig: 'cd' }, 'signatures[0]');
    expect([s.keyid, s.sig]).toEqual(['ab', 'cd']);
    expect(s.toJSON()).toEqual({ keyid: 'ab', sig: 'cd' });
  });

  it('accepts an empty sig (well-formed; it just never verifies)', () => {
    expect(Signature.fromJSON({ keyid: 'ab', sig: '' }, '$').sig).toBe('');
  });

  it.each([
    ['null', null, 'signatures[0]'],
    ['an array', [], 'signatures[0]'],
    ['a string', 'ab', 'signatures[0]'],
    ['a class instance', new Date(0), 'signatures[0]'],
    ['no keyid', { sig: 'cd' }, 'signatures[0].keyid'],
    ['a numeric keyid', { keyid: 1, sig: 'cd' }, 'signatures[0].keyid'],
    ['no sig', { keyid: 'ab' }, 'signatures[0].sig'],
    ['a null sig', { keyid: 'ab', sig: null }, 'signatures[0].sig'],
    ['a non-JSON extra field', { keyid: 'ab', sig: '', x: () => 1 }, 'signatures[0].x'],
    ['a fractional extra field', { keyid: 'ab', sig: '', x: { y: 1.5 } }, 'signatures[0].x.y'],
  ])('rejects %s, naming the path', (_name, input, path) => {
    expect(formatErrorPath(() => Signature.fromJSON(input, 'signatures[0]'))).toBe(path);
  });

  it('does not take fields from a polluted Object.prototype', () => {
    Object.defineProperty(Object.prototype, 'sig', { value: '00', configurable: true, writable: true });
    try {
      expect(formatErrorPath(() => Signature.fromJSON({ keyid: 'ab' }, '$'))).toBe('$.sig');
    } finally {
      delete (Object.prototype as Record<string, unknown>)['sig'];
    }
  });
});

describe('Signature unknown fields', () => {
  const text = '{"keyid":"ab","sig":"cd","__proto__":{"polluted":1},"extra":[1,{"__proto__":"x"}],"n":null}';

  it('round-trips unknown fields, __proto__ included, without setting a prototype', () => {
    const input: unknown = JSON.parse(text);
    const s = Signature.fromJSON(input, '$');
    const out = s.toJSON();
    expect(canonicalString(out)).toBe(canonicalString(input));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toContain('__proto__');
    expect('polluted' in out).toBe(false);
    expect(Object.keys(s.unrecognized).sort()).toEqual(['__proto__', 'extra', 'n']);
  });

  it('keeps its own copy: mutating the input or toJSON() output changes nothing', () => {
    const input = JSON.parse(text) as Record<string, unknown>;
    const s = Signature.fromJSON(input, '$');
    (input['extra'] as unknown[]).push(2);
    (s.toJSON()['extra'] as unknown[]).push(3);
    expect(canonicalString(s.toJSON())).toBe(canonicalString(JSON.parse(text)));
    expect(Object.isFrozen(s.unrecognized['extra'])).toBe(true);
  });

  it('refuses a known field passed as unrecognized', () => {
    expect(() => new Signature('ab', 'cd', { sig: 'ef' })).toThrow(UsageError);
  });
});
