/**
 * File forms. Expected strings were produced with CPython 3.11's
 * `json.dumps(v, indent=1, sort_keys=True, separators=(",", ": "))` (pretty, python-tuf's default),
 * `json.dumps(v, sort_keys=True, separators=(",", ":"))` (python-tuf's compact form) and an OLPC
 * canonical encoder (sorted keys, only `"` and `\` escaped, raw UTF-8), and written out here.
 */
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { pythonJson } from '../../src/metadata/serialize.js';
import { bytesOf, H1, type Json, text, thrown, utf8 } from './fixtures.js';

const SPECIAL = {
  b: 'é😀\n\t\b\f\r\u0001\u001f\u007f"\\/ ~',
  a: [],
  c: {},
  d: [1, -2, true, false, null, {}, [], [[]]],
  ÿ: 0,
  '\uff61': 1,
  '😀': 2,
  '\u0080': '\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}',
};

const SPECIAL_PRETTY =
  '{\n "a": [],\n "b": "\\u00e9\\ud83d\\ude00\\n\\t\\b\\f\\r\\u0001\\u001f\\u007f\\"\\\\/ ~",\n "c": {},\n "d": [\n  1,\n  -2,\n  true,\n  false,\n  null,\n  {},\n  [],\n  [\n   []\n  ]\n ],\n "\\u0080": "\\u0080\\u07ff\\u0800\\uffff\\ud800\\udc00\\udbff\\udfff",\n "\\u00ff": 0,\n "\\uff61": 1,\n "\\ud83d\\ude00": 2\n}';

const SPECIAL_COMPACT =
  '{"a":[],"b":"\\u00e9\\ud83d\\ude00\\n\\t\\b\\f\\r\\u0001\\u001f\\u007f\\"\\\\/ ~","c":{},"d":[1,-2,true,false,null,{},[],[[]]],"\\u0080":"\\u0080\\u07ff\\u0800\\uffff\\ud800\\udc00\\udbff\\udfff","\\u00ff":0,"\\uff61":1,"\\ud83d\\ude00":2}';

describe('pythonJson (python-tuf JSONSerializer layout)', () => {
  it('pretty: indent 1, ", " never, ": " after keys, keys by code point, ensure_ascii escaping', () => {
    expect(pythonJson(SPECIAL)).toBe(SPECIAL_PRETTY);
    expect(pythonJson(SPECIAL, 1)).toBe(SPECIAL_PRETTY);
  });

  it('compact: no white space at all', () => {
    expect(pythonJson(SPECIAL, 'compact')).toBe(SPECIAL_COMPACT);
  });

  it('keys sort by code point, not UTF-16 unit (U+E000 and U+FF61 before U+1F600)', () => {
    const v = { '\uff61': 1, '😀': 2, '\ue000': 3, z: 4 };
    expect(pythonJson(v)).toBe('{\n "z": 4,\n "\\ue000": 3,\n "\\uff61": 1,\n "\\ud83d\\ude00": 2\n}');
  });

  it('each escape on its own', () => {
    const cases: [string, string][] = [
      ['\n', '"\\n"'],
      ['\t', '"\\t"'],
      ['\b', '"\\b"'],
      ['\f', '"\\f"'],
      ['\r', '"\\r"'],
      ['\u0000', '"\\u0000"'],
      ['\u000b', '"\\u000b"'],
      ['\u001b', '"\\u001b"'],
      ['\u007f', '"\\u007f"'],
      ['"', '"\\""'],
      ['\\', '"\\\\"'],
      ['/', '"/"'],
      ['é', '"\\u00e9"'],
      ['\u2028', '"\\u2028"'],
      ['\uabcd', '"\\uabcd"'],
      ['😀', '"\\ud83d\\ude00"'],
      [' !#[]~', '" !#[]~"'],
      ['', '""'],
    ];
    for (const [s, expected] of cases) expect(pythonJson(s)).toBe(expected);
    expect(pythonJson([...cases.map(([s]) => s)])).toBe(`[\n ${cases.map(([, e]) => e).join(',\n ')}\n]`);
  });

  it('empty objects and arrays, nesting, scalars', () => {
    expect(pythonJson({})).toBe('{}');
    expect(pythonJson([])).toBe('[]');
    expect(pythonJson({ a: { b: {} } })).toBe('{\n "a": {\n  "b": {}\n }\n}');
    expect(pythonJson(null)).toBe('null');
    expect(pythonJson(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    expect(pythonJson(-0 + 0)).toBe('0');
  });

  it('refuses what JSON metadata cannot hold', () => {
    for (const bad of [
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      undefined,
      1n,
      () => 1,
      Symbol('s'),
    ]) {
      expect(thrown(() => pythonJson([bad]))).toBeInstanceOf(FormatError);
    }
  });

  it('leaves out undefined object members, as the model relies on', () => {
    expect(pythonJson({ a: undefined, b: 1 })).toBe('{\n "b": 1\n}');
  });
});

/** A targets document with a hostile path, custom values and an unknown envelope field. */
function hostileDoc(): Json {
  return {
    signatures: [{ keyid: 'k1', sig: 'abcd' }],
    signed: {
      _type: 'targets',
      spec_version: '1.0.31',
      version: 1,
      expires: '2030-01-01T00:00:00Z',
      targets: {
        'dir/é😀\u0001 file\n.txt': {
          length: 3,
          hashes: { sha256: H1 },
          custom: {
            msg: 'tab\there',
            del: '\u007f',
            quote: '"\\',
            empty: {},
            list: [],
            '\uff61': 1,
            '😀': 2,
          },
        },
      },
    },
    'x-extra': 'ÿ',
  };
}

const HOSTILE_PRETTY =
  '{\n "signatures": [\n  {\n   "keyid": "k1",\n   "sig": "abcd"\n  }\n ],\n "signed": {\n  "_type": "targets",\n  "expires": "2030-01-01T00:00:00Z",\n  "spec_version": "1.0.31",\n  "targets": {\n   "dir/\\u00e9\\ud83d\\ude00\\u0001 file\\n.txt": {\n    "custom": {\n     "del": "\\u007f",\n     "empty": {},\n     "list": [],\n     "msg": "tab\\there",\n     "quote": "\\"\\\\",\n     "\\uff61": 1,\n     "\\ud83d\\ude00": 2\n    },\n    "hashes": {\n     "sha256": "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"\n    },\n    "length": 3\n   }\n  },\n  "version": 1\n },\n "x-extra": "\\u00ff"\n}';

const HOSTILE_COMPACT =
  '{"signatures":[{"keyid":"k1","sig":"abcd"}],"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{"dir/\\u00e9\\ud83d\\ude00\\u0001 file\\n.txt":{"custom":{"del":"\\u007f","empty":{},"list":[],"msg":"tab\\there","quote":"\\"\\\\","\\uff61":1,"\\ud83d\\ude00":2},"hashes":{"sha256":"7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"},"length":3}},"version":1},"x-extra":"\\u00ff"}';

// Raw UTF-8, control characters unescaped, only `"` and `\` escaped.
const HOSTILE_CANONICAL =
  '{"signatures":[{"keyid":"k1","sig":"abcd"}],"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{"dir/\u00e9\ud83d\ude00\u0001 file\n.txt":{"custom":{"del":"\u007f","empty":{},"list":[],"msg":"tab\there","quote":"\\"\\\\","\uff61":1,"\ud83d\ude00":2},"hashes":{"sha256":"7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"},"length":3}},"version":1},"x-extra":"\u00ff"}';

describe('Metadata.toBytes', () => {
  it('the fixture hash is what the expected strings were made with', () => {
    expect(H1).toBe('7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed');
  });

  for (const [name, indent] of [
    ['indented', 1],
    ['compact', undefined],
  ] as const) {
    it(`from a ${name} file: pretty and canonical match Python byte for byte`, () => {
      const md = Metadata.fromBytes(bytesOf(hostileDoc(), indent), 'targets');
      expect(text(md.toBytes('pretty'))).toBe(HOSTILE_PRETTY);
      expect(text(md.toBytes())).toBe(HOSTILE_PRETTY);
      expect(md.toBytes('canonical')).toEqual(utf8(HOSTILE_CANONICAL));
      expect(md.toBytes('canonical')).toEqual(canonicalBytes(md.toJSON()));
      // pretty/compact are pure ASCII.
      expect(md.toBytes('pretty').every((b) => b < 0x80)).toBe(true);
    });
  }

  it("toBytes('compact') matches python-tuf's compact form byte for byte", () => {
    const md = Metadata.fromBytes(bytesOf(hostileDoc()), 'targets');
    expect(text(md.toBytes('compact'))).toBe(HOSTILE_COMPACT);
  });

  it("toBytes('compact') at least carries the same JSON as the other forms", () => {
    const md = Metadata.fromBytes(bytesOf(hostileDoc()), 'targets');
    expect(JSON.parse(text(md.toBytes('compact')))).toEqual(hostileDoc());
  });

  it('each form parses back to the same model (idempotent)', () => {
    const md = Metadata.fromBytes(bytesOf(hostileDoc()), 'targets');
    for (const form of ['pretty', 'compact'] as const) {
      const again = Metadata.fromBytes(md.toBytes(form), 'targets');
      expect(text(again.toBytes('pretty'))).toBe(HOSTILE_PRETTY);
      expect(again.signedBytes()).toEqual(md.signedBytes());
    }
    // Canonical JSON writes control characters raw, which no strict JSON reader accepts back;
    // without them the canonical form is valid JSON and round-trips.
    expect(() => Metadata.fromBytes(md.toBytes('canonical'), 'targets')).toThrow(FormatError);
    const tame = hostileDoc();
    (tame['signed'] as Json)['targets'] = {
      'dir/é😀 "q" \\ file.txt': { length: 1, hashes: { sha256: H1 } },
    };
    const tameMd = Metadata.fromBytes(bytesOf(tame), 'targets');
    const again = Metadata.fromBytes(tameMd.toBytes('canonical'), 'targets');
    expect(again.toBytes('canonical')).toEqual(tameMd.toBytes('canonical'));
    expect(again.signedBytes()).toEqual(tameMd.signedBytes());
  });

  it('signedBytes is the canonical form of `signed` only', () => {
    const md = Metadata.fromBytes(bytesOf(hostileDoc()), 'targets');
    const start = HOSTILE_CANONICAL.indexOf('"signed":') + '"signed":'.length;
    const end = HOSTILE_CANONICAL.lastIndexOf(',"x-extra"');
    expect(md.signedBytes()).toEqual(utf8(HOSTILE_CANONICAL.slice(start, end)));
    expect(md.signedBytes()).toEqual(canonicalBytes(md.signed.toJSON()));
  });

  it('a document built in code serialises the same way', () => {
    const parsed = Metadata.fromBytes(bytesOf(hostileDoc()), 'targets');
    const built = new Metadata(parsed.signed, parsed.signatures.values(), parsed.unrecognized);
    expect(text(built.toBytes('pretty'))).toBe(HOSTILE_PRETTY);
    expect(built.toBytes('canonical')).toEqual(utf8(HOSTILE_CANONICAL));
  });
});
