/**
 * The trust pins of a client cache (`chain.json`) as data: versions are Map keys, and anything
 * tufa does not write there is refused naming the file and the entry.
 */

import { describe, expect, it } from 'vitest';
import { CorruptStateError } from '../../src/errors.js';
import { parseTrustChain, trustChainToBytes } from '../../src/node/pinned-trust.js';

const FILE = '/home/me/.tufa/trust/0123456789abcdef/example.com%2Fapp/chain.json';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const enc = (text: string) => new TextEncoder().encode(text);

describe('parseTrustChain', () => {
  it('reads versions into a Map and writes them back in order', () => {
    const chain = parseTrustChain(enc(`{"10":"${B}","2":"${A}"}`), FILE);
    expect(chain).toEqual(
      new Map([
        [10, B],
        [2, A],
      ]),
    );
    expect(new TextDecoder().decode(trustChainToBytes(chain))).toBe(`{\n "2": "${A}",\n "10": "${B}"\n}\n`);
    expect(parseTrustChain(trustChainToBytes(chain), FILE)).toEqual(chain);
    expect(parseTrustChain(enc('{}'), FILE)).toEqual(new Map());
  });

  const CASES: [string, string, string, RegExp][] = [
    ['truncated', `{"1":"${A}`, '', /not valid JSON/],
    ['a duplicate version', `{"1":"${A}","1":"${B}"}`, '', /not valid JSON .*duplicate/i],
    ['an array', `["${A}"]`, '', /expected a JSON object of root version → sha256, found an array/],
    ['null', 'null', '', /found null/],
    ['a string', `"${A}"`, '', /found string/],
    ['a constructor entry', `{"constructor":"${A}"}`, '"constructor"', /expected a root version/],
    ['a __proto__ entry', `{"__proto__":"${A}"}`, '"__proto__"', /expected a root version/],
    ['a hasOwnProperty entry', `{"1":"${A}","hasOwnProperty":"${B}"}`, '"hasOwnProperty"', /root version/],
    ['version 0', `{"0":"${A}"}`, '"0"', /a whole number from 1/],
    ['a leading zero', `{"01":"${A}"}`, '"01"', /a whole number from 1/],
    ['a negative version', `{"-1":"${A}"}`, '"-1"', /root version/],
    ['a version beyond 2^53', `{"9007199254740993":"${A}"}`, '"9007199254740993"', /root version/],
    ['a hash that is a number', '{"1":5}', '1', /expected the sha256 of a root file .*, found number/],
    ['a hash that is an object', '{"1":{}}', '1', /found object/],
    ['an upper-case hash', `{"1":"${A.toUpperCase()}"}`, '1', /64 lower-case hex digits/],
    ['a short hash', '{"1":"abc"}', '1', /found the string "abc"/],
  ];

  it.each(CASES)('refuses %s', (_, text, field, message) => {
    let e: unknown;
    try {
      parseTrustChain(enc(text), FILE);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(CorruptStateError);
    const c = e as CorruptStateError;
    expect([c.code, c.file, c.field]).toEqual(['STORAGE', FILE, field]);
    expect(c.message).toMatch(message);
  });
});
