import { readFileSync } from 'node:fs';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { canonicalBytes, compareCodePoints } from '../../src/json/canonical.js';
import { MAX_DEPTH, parseStrict, scanCost } from '../../src/json/strict.js';

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

  it('assembles signed and the document when objects inside and around signed are out of order', () => {
    const r = parseStrict(
      enc.encode(
        '{"signed":{"z":[{"y":1,"x":{"q":1,"p":2}}],"b":{"d":1,"c":{"f":1,"e":2}},"a":1},"signatures":[{"sig":"s","keyid":"k"}]}',
      ),
    );
    const signed = '{"a":1,"b":{"c":{"e":2,"f":1},"d":1},"z":[{"x":{"p":2,"q":1},"y":1}]}';
    expect(new TextDecoder().decode(r.signedCanonical)).toBe(signed);
    expect(new TextDecoder().decode(r.canonical)).toBe(
      `{"signatures":[{"keyid":"k","sig":"s"}],"signed":${signed}}`,
    );
  });

  it('says where the input goes wrong, although JSON.parse reads it first', () => {
    // JSON.parse runs before the scan (memory: the text is dropped before the scan's output
    // exists); its SyntaxError must not be what the caller sees.
    for (const [input, says] of [
      ['{"a":}', 'invalid JSON at byte 5'],
      ['[1,2,', 'invalid JSON at byte 5'],
      ['{"a":1,"a":2}', 'duplicate object key "a"'], // JSON.parse took this one
    ] as const) {
      const e = (() => {
        try {
          parseStrict(enc.encode(input));
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(e, input).toBeInstanceOf(FormatError);
      expect((e as Error).message, input).toContain(says);
    }
  });

  it('signed already in canonical order is a view of the canonical document, not a copy', () => {
    // At 1M targets a copy of `signed` is ~150 MB alive beside the scan's output at the peak.
    const input = '{ "signatures": [], "signed": { "a": [ 2 ], "b": 1 } }';
    const r = parseStrict(enc.encode(input));
    expect(new TextDecoder().decode(r.signedCanonical)).toBe('{"a":[2],"b":1}');
    expect(new TextDecoder().decode(r.canonical)).toBe('{"signatures":[],"signed":{"a":[2],"b":1}}');
    expect(r.signedCanonical?.buffer).toBe(r.canonical.buffer);
    // Out of order, `signed` is assembled into its own bytes (checked above); the view never
    // changes afterwards, whatever else is read from the result.
    const again = parseStrict(enc.encode(input));
    expect(again.signedCanonical).toEqual(r.signedCanonical);
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

describe('key order, escapes and duplicates in large objects', () => {
  // Keys that share long prefixes, need escapes, or sort differently by code point and by UTF-16.
  const keyUnit = fc.constantFrom('a', 'b', '"', '\\', 'é', '\uffff', '\u{1f600}');
  const prefix = fc.constantFrom('', 'registry.example.com/team/', '\\"\\"\\"', 'x'.repeat(40));
  const key = fc.tuple(prefix, fc.string({ unit: keyUnit, maxLength: 6 })).map(([p, k]) => p + k);
  const member = (k: string, v: number, escapeAll: boolean) => {
    const text = JSON.stringify(k);
    // The same key spelled with a \u escape for every UTF-16 unit: it must sort and compare the same.
    const spelled = escapeAll
      ? `"${k
          .split('')
          .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
          .join('')}"`
      : text;
    return `${spelled}:${v}`;
  };

  it('writes any member order canonically, as the value encoder does', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { minLength: 2, maxLength: 80 }), fc.boolean(), (keys, escapeAll) => {
        const text = `{${keys.map((k, i) => member(k, i, escapeAll && i % 2 === 0)).join(',')}}`;
        const value = Object.fromEntries(keys.map((k, i) => [k, i]));
        expect(parseStrict(enc.encode(text)).canonical).toEqual(canonicalBytes(value));
      }),
      { numRuns: 300 },
    );
  });

  it('finds a duplicate key wherever it is, however it is spelled', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { minLength: 1, maxLength: 60 }),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        (keys, which, where, escapeAll) => {
          const members = keys.map((k, i) => member(k, i, false));
          const dup = keys[which % keys.length] as string;
          members.splice(where % (members.length + 1), 0, member(dup, -1, escapeAll));
          expect(() => parseStrict(enc.encode(`{${members.join(',')}}`))).toThrow(/duplicate object key/);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parse cost is linear in the input whatever its key order, escapes or nesting', () => {
  // Counted operations, not time: `scanCost` reports the key comparisons, the key bytes read by
  // comparisons and by unescaping, and the bytes moved to put members in order. Each shape is
  // built at about `size` bytes, in the forms an attacker would choose to make sorting expensive.
  const pad = (i: number) => String(i).padStart(8, '0');
  const fill = (size: number, make: (i: number) => string): string[] => {
    const out: string[] = [];
    for (let i = 0, n = 0; n < size; i++) {
      const m = make(i);
      out.push(m);
      n += m.length + 1;
    }
    return out;
  };
  const targets = (members: string[]) =>
    `{"signatures":[],"signed":{"_type":"targets","targets":{${members.join(',')}},"version":1}}`;
  const entry = (k: string) => `${k}:{"hashes":{"sha256":"${'ab'.repeat(32)}"},"length":1}`;
  const u = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  /** A fixed pseudo-random order (a plain comparison sort may do well on reversed input). */
  const shuffle = (a: string[]): string[] => {
    let seed = 12345;
    for (let i = a.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [a[i], a[j]] = [a[j] as string, a[i] as string];
    }
    return a;
  };
  const nest = (depth: number, inner: string) => {
    let s = inner;
    for (let d = 0; d < depth; d++) s = `{"b":${s},"a":1}`;
    return s;
  };

  const shapes: Record<string, (size: number) => string> = {
    'keys in reverse order': (n) => targets(fill(n, (i) => entry(`"app-${pad(i)}"`)).reverse()),
    'escaped keys, shuffled': (n) => targets(shuffle(fill(n, (i) => entry(`"a\\"p\\\\p-${pad(i)}"`)))),
    'keys of \\u escapes in reverse order': (n) =>
      targets(fill(n, (i) => entry(`"${u(`app-${pad(i)}`)}"`)).reverse()),
    'long keys sharing a prefix, shuffled': (n) =>
      targets(shuffle(fill(n, (i) => entry(`"${'x'.repeat(2000)}${pad(i)}"`)))),
    'long escaped keys sharing a prefix, shuffled': (n) =>
      targets(shuffle(fill(n, (i) => entry(`"${'\\"'.repeat(500)}${pad(i)}"`)))),
    'one huge escaped key among short ones, shuffled': (n) => {
      const short = fill(n / 2, (i) => entry(`"k${pad(i)}"`));
      short.push(entry(`"m${'\\"'.repeat(n / 4)}"`));
      return targets(shuffle(short));
    },
    'many small objects in reverse order': (n) =>
      `[${fill(n, (i) => (i % 3 === 0 ? '{"b":1,"a":1}' : i % 3 === 1 ? '{"c":1,"b":1,"a":1}' : '{"h":1,"g":1,"f":1,"e":1,"d":1,"c":1,"b":1,"a":1}')).join(',')}]`,
    'unsorted objects nested to the depth limit': (n) =>
      `[${fill(n, () => nest(MAX_DEPTH - 2, `"${'y'.repeat(200)}"`)).join(',')}]`,
  };

  /** Members of all objects, and the deepest nesting of objects, in a parsed value. */
  function census(v: unknown, depth = 0): { members: number; maxMembers: number; depth: number } {
    if (Array.isArray(v)) {
      return v.reduce(
        (a, x) => {
          const c = census(x, depth);
          return {
            members: a.members + c.members,
            maxMembers: Math.max(a.maxMembers, c.maxMembers),
            depth: Math.max(a.depth, c.depth),
          };
        },
        { members: 0, maxMembers: 0, depth },
      );
    }
    if (v === null || typeof v !== 'object') return { members: 0, maxMembers: 0, depth };
    const keys = Object.keys(v);
    let r = { members: keys.length, maxMembers: keys.length, depth: depth + 1 };
    for (const k of keys) {
      const c = census((v as Record<string, unknown>)[k], depth + 1);
      r = {
        members: r.members + c.members,
        maxMembers: Math.max(r.maxMembers, c.maxMembers),
        depth: Math.max(r.depth, c.depth),
      };
    }
    return r;
  }

  for (const [name, make] of Object.entries(shapes)) {
    it(name, () => {
      for (const size of [100_000, 400_000]) {
        const bytes = enc.encode(make(size));
        const n = bytes.length;
        const value = JSON.parse(make(size));
        const { members, maxMembers } = census(value);
        // The result first: the canonical bytes the value encoder writes.
        if (size === 100_000) expect(parseStrict(bytes).canonical).toEqual(canonicalBytes(value));
        const cost = scanCost(bytes);
        // Sorting reads a key's bytes at most twice, the scan once, unescaping once.
        expect(cost.keyBytesRead, `key bytes read, ${n} bytes`).toBeLessThanOrEqual(4 * n);
        // A comparison sort: at most log2 comparisons per member, plus one per member in the scan.
        expect(cost.comparisons).toBeLessThanOrEqual(
          members * (Math.ceil(Math.log2(Math.max(2, maxMembers))) + 1),
        );
        // Each byte is copied once into the canonical document and once into `signed`, however
        // many unsorted objects enclose it.
        expect(cost.movedBytes, `bytes moved, ${n} bytes`).toBeLessThanOrEqual(2 * n);
        // Scratch space grows by doubling and is reused: no allocation per object or per key.
        expect(cost.buffersAllocated).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
      }
    });
  }

  it('costs nothing beyond the scan for a file already in canonical order', () => {
    const bytes = enc.encode(targets(fill(100_000, (i) => entry(`"app-${pad(i)}"`))));
    const cost = scanCost(bytes);
    expect(cost.movedBytes).toBe(0);
    expect(cost.keyBytesRead).toBeLessThanOrEqual(bytes.length);
  });
});
