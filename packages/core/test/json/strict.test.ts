import { readFileSync } from 'node:fs';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { canonicalBytes, compareCodePoints } from '../../src/json/canonical.js';
import { MAX_DEPTH, parseStrict } from '../../src/json/strict.js';

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const vectors = JSON.parse(
  readFileSync(
    new URL('../../../../test-vectors/python-tuf/canonical-json/cases.json', import.meta.url),
    'utf8',
  ),
) as {
  cases: { input: string; canonical_hex: string }[];
  non_integer_numbers: { input: string; securesystemslib_accepts: boolean }[];
};

describe('canonical JSON matches securesystemslib', () => {
  for (const c of vectors.cases) {
    it(`scanner: ${c.input.slice(0, 40)}`, () => {
      expect(hex(parseStrict(enc.encode(c.input)).canonical)).toBe(c.canonical_hex);
    });
    it(`encoder: ${c.input.slice(0, 40)}`, () => {
      expect(hex(canonicalBytes(JSON.parse(c.input)))).toBe(c.canonical_hex);
    });
  }
  for (const c of vectors.non_integer_numbers) {
    it(`rejects ${c.input} like securesystemslib`, () => {
      expect(c.securesystemslib_accepts).toBe(false);
      expect(() => parseStrict(enc.encode(c.input))).toThrow(FormatError);
    });
  }
});

describe('strict reader rejects what JSON.parse takes leniently', () => {
  const bad: [string, string | Uint8Array][] = [
    ['duplicate keys', '{"a":1,"a":2}'],
    ['duplicate keys out of order', '{"b":1,"a":2,"b":3}'],
    ['duplicate keys spelled differently', '{"a":1,"\\u0061":2}'],
    ['duplicate nested keys', '{"x":{"k":1,"k":1}}'],
    ['fraction', '{"a":1.0}'],
    ['exponent', '{"a":1e2}'],
    ['huge exponent', '[1e400]'],
    ['integer above 2^53-1', '9007199254740992'],
    ['integer below -(2^53-1)', '-9007199254740992'],
    ['many digits', '123456789012345678901234567890'],
    ['minus zero', '-0'],
    ['leading zero', '01'],
    ['lone high surrogate', '"\\ud800"'],
    ['lone low surrogate', '"\\udc00x"'],
    ['high surrogate then non-low', '"\\ud800\\u0041"'],
    ['raw control character', '"a\u0001b"'],
    ['raw newline in string', '"a\nb"'],
    ['bad escape', '"\\x41"'],
    ['short unicode escape', '"\\u12"'],
    ['trailing comma in object', '{"a":1,}'],
    ['trailing comma in array', '[1,]'],
    ['trailing data', '{} {}'],
    ['single quotes', "{'a':1}"],
    ['NaN', 'NaN'],
    ['unterminated', '{"a":'],
    ['empty input', ''],
    ['byte order mark', new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])],
    ['invalid UTF-8', new Uint8Array([0x22, 0xc3, 0x28, 0x22])],
    ['overlong UTF-8', new Uint8Array([0x22, 0xc0, 0xaf, 0x22])],
    ['CESU-8 surrogate', new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22])],
    ['too deep', `${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}`],
  ];
  for (const [name, input] of bad) {
    it(name, () => {
      const bytes = typeof input === 'string' ? enc.encode(input) : input;
      expect(() => parseStrict(bytes)).toThrow(FormatError);
    });
  }

  it('accepts the limits', () => {
    expect(parseStrict(enc.encode('[9007199254740991,-9007199254740991,0]')).value).toEqual([
      9007199254740991, -9007199254740991, 0,
    ]);
    const deep = `${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`;
    expect(() => parseStrict(enc.encode(deep))).not.toThrow();
  });

  it('keeps __proto__ as a plain own property', () => {
    const { value, canonical } = parseStrict(enc.encode('{"__proto__":{"polluted":1},"constructor":2}'));
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value as object, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(new TextDecoder().decode(canonical)).toBe('{"__proto__":{"polluted":1},"constructor":2}');
  });

  it('sorts keys by code point, not UTF-16 code unit, including escaped quotes', () => {
    const input = '{"\\"":1,"#":2,"\\\\":3,"\uffff":4,"\u{1f600}":5,"!":6}';
    const { canonical } = parseStrict(enc.encode(input));
    expect(new TextDecoder().decode(canonical)).toBe(
      '{"!":6,"\\"":1,"#":2,"\\\\":3,"\uffff":4,"\u{1f600}":5}',
    );
    expect(canonicalBytes(JSON.parse(input))).toEqual(canonical);
  });

  it('returns the canonical bytes of the top-level signed member', () => {
    const r = parseStrict(enc.encode('{ "signed" : { "b" : 1 , "a" : [ 2 ] }, "signatures": [] }'));
    expect(new TextDecoder().decode(r.signedCanonical)).toBe('{"a":[2],"b":1}');
    expect(parseStrict(enc.encode('{"x":{"signed":1}}')).signedCanonical).toBeUndefined();
  });

  it('orders code points with compareCodePoints', () => {
    expect(compareCodePoints('\uffff', '\u{10000}')).toBeLessThan(0);
    expect('\uffff' < '\u{10000}').toBe(false); // the UTF-16 trap
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('b', 'a')).toBeGreaterThan(0);
  });
});

describe('properties', () => {
  // Values where RFC 8785 and OLPC canonical JSON agree: no control characters, BMP-only keys, integers.
  const safeString = fc.string({ unit: fc.constantFrom(...'abcXYZ09 _-/"\\é中'.split('')), maxLength: 8 });
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.boolean(),
      fc.constant(null),
      safeString,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(safeString, tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  it('scanner and value encoder agree with RFC 8785 where the forms coincide', () => {
    fc.assert(
      fc.property(json, fc.constantFrom(0, 1, 2), (v, indent) => {
        const text = JSON.stringify(v, null, indent);
        const ours = new TextDecoder().decode(parseStrict(enc.encode(text)).canonical);
        expect(ours).toBe(canonicalize(v));
        expect(new TextDecoder().decode(canonicalBytes(v))).toBe(ours);
      }),
      { numRuns: 500 },
    );
  });

  it('parse is the identity on values', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(parseStrict(enc.encode(JSON.stringify(v))).value).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but FormatError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          parseStrict(b);
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
