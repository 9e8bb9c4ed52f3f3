/**
 * Property: any single mutation of a signed targets file either fails to parse with a TufError,
 * or parses and then fails verification with a ThresholdError — unless the mutation left the
 * signed value (and the signature) as they were, in which case it still verifies. Nothing else
 * is ever thrown. The oracle for "unchanged" is independent of the code under test: a lenient
 * JSON.parse of the mutated bytes compared structurally with the original.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ThresholdError, TufError } from '../../src/errors.js';
import { Metadata } from '../../src/metadata/metadata.js';
import {
  bytesOf,
  clone,
  type Json,
  rootSigned,
  setAt,
  signDoc,
  signer,
  targetsSigned,
  text,
} from './fixtures.js';

const SIGNER = signer(4);

type Mutation =
  | { kind: 'flip'; pos: number; xor: number }
  | { kind: 'insert'; pos: number; byte: number }
  | { kind: 'delete'; pos: number }
  | { kind: 'replace'; target: number; value: unknown };

type Outcome = 'parse-error' | 'threshold-error' | 'verified';

/** Every path to a value inside `v` (containers included), relative to `v`. */
function valuePaths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push(...valuePaths(x, [...prefix, i]));
    });
  } else if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) out.push(...valuePaths((v as Json)[k], [...prefix, k]));
  }
  return out;
}

function apply(original: Uint8Array, doc: Json, paths: (string | number)[][], m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const b = original.slice();
      b[m.pos] = (b[m.pos] as number) ^ m.xor;
      return b;
    }
    case 'insert': {
      const b = new Uint8Array(original.length + 1);
      b.set(original.subarray(0, m.pos), 0);
      b[m.pos] = m.byte;
      b.set(original.subarray(m.pos), m.pos + 1);
      return b;
    }
    case 'delete': {
      const b = new Uint8Array(original.length - 1);
      b.set(original.subarray(0, m.pos), 0);
      b.set(original.subarray(m.pos + 1), m.pos);
      return b;
    }
    case 'replace': {
      const copy = clone(doc);
      const path = paths[m.target % paths.length] as (string | number)[];
      if (path.length === 0) copy['signed'] = m.value;
      else setAt(copy['signed'], path, m.value);
      return bytesOf(copy);
    }
  }
}

describe('single mutations of a signed targets file', () => {
  it('fail to parse (TufError), fail to verify (ThresholdError), or change nothing signed and verify', async () => {
    const root = Metadata.fromBytes(bytesOf(await signDoc(rootSigned(), [])), 'root');
    const doc = await signDoc(targetsSigned(), [SIGNER]);
    const original = bytesOf(doc);
    const originalSig = ((doc['signatures'] as Json[])[0] as Json)['sig'] as string;
    const paths = valuePaths(doc['signed']);
    // The unmutated file verifies.
    await root.verifyDelegate('targets', Metadata.fromBytes(original, 'targets'));

    const pos = fc.nat({ max: original.length - 1 });
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), pos, xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({
        kind: fc.constant('insert' as const),
        pos: fc.nat({ max: original.length }),
        byte: fc.oneof(
          fc.constantFrom(
            0x20,
            0x0a,
            0x09,
            0x0d,
            0x22,
            0x5c,
            0x2c,
            0x3a,
            0x7b,
            0x7d,
            0x5b,
            0x5d,
            0x30,
            0x31,
            0x2d,
            0x61,
          ),
          fc.integer({ min: 0, max: 255 }),
        ),
      }),
      fc.record({ kind: fc.constant('delete' as const), pos }),
      fc.record({
        kind: fc.constant('replace' as const),
        target: fc.nat(),
        value: fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.integer({ min: -2, max: 2 ** 53 }),
          fc.string(),
          fc.constantFrom(null, true, false, {}, [], '', 'targets', 1, 0, '2030-01-01T00:00:00Z', '*', ['*']),
        ),
      }),
    );

    const seen: Record<Outcome, number> = { 'parse-error': 0, 'threshold-error': 0, verified: 0 };
    const kinds = new Map<string, Set<Outcome>>();

    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = apply(original, doc, paths, m);
        let outcome: Outcome;
        let md: Metadata | undefined;
        try {
          md = Metadata.fromBytes(bytes, 'targets');
        } catch (e) {
          if (!(e instanceof TufError))
            throw new Error(`parse threw a non-TufError: ${String(e)}`, { cause: e });
          md = undefined;
        }
        if (md === undefined) {
          outcome = 'parse-error';
        } else {
          // The strict reader accepted it, so the lenient one reads the same value.
          const lenient = JSON.parse(text(bytes)) as Json;
          const sigs = lenient['signatures'];
          const signedUnchanged = isDeepStrictEqual(lenient['signed'], doc['signed']);
          const sigUnchanged =
            Array.isArray(sigs) &&
            sigs.some(
              (s: Json) =>
                s['keyid'] === SIGNER.keyid &&
                typeof s['sig'] === 'string' &&
                s['sig'].toLowerCase() === originalSig,
            );
          try {
            await root.verifyDelegate('targets', md);
            outcome = 'verified';
          } catch (e) {
            if (!(e instanceof ThresholdError)) {
              throw new Error(`verify threw something other than a ThresholdError: ${String(e)}`, {
                cause: e,
              });
            }
            outcome = 'threshold-error';
          }
          const expected: Outcome = signedUnchanged && sigUnchanged ? 'verified' : 'threshold-error';
          if (outcome !== expected) {
            throw new Error(`expected ${expected}, got ${outcome} for ${JSON.stringify(m)}`);
          }
          // When the signed value is unchanged, so are the bytes the signature covers.
          if (signedUnchanged) expect(md.signedBytes()).toEqual(Metadata.fromBytes(original).signedBytes());
        }
        seen[outcome]++;
        const set = kinds.get(m.kind) ?? new Set<Outcome>();
        set.add(outcome);
        kinds.set(m.kind, set);
      }),
      { numRuns: 500, seed: 0x7075f, endOnFailure: true },
    );

    // The property is not vacuous: each outcome happened, from more than one kind of mutation.
    expect(seen['parse-error']).toBeGreaterThan(20);
    expect(seen['threshold-error']).toBeGreaterThan(20);
    expect(seen.verified).toBeGreaterThan(5);
    expect(kinds.get('flip')?.has('threshold-error')).toBe(true);
    expect(kinds.get('replace')?.has('threshold-error')).toBe(true);
    expect(kinds.get('insert')?.has('verified')).toBe(true);
  });

  it('a few hand-written mutations that leave the signed value unchanged still verify', async () => {
    const root = Metadata.fromBytes(bytesOf(await signDoc(rootSigned(), [])), 'root');
    const doc = await signDoc(targetsSigned(), [SIGNER]);
    const variants = [
      bytesOf(doc, undefined), // compact
      bytesOf(doc, 4), // other indentation
      new TextEncoder().encode(` \n\t${text(bytesOf(doc))}\r\n `), // surrounding white space
      new TextEncoder().encode(text(bytesOf(doc)).replace('"a.txt"', '"a\\u002etxt"')), // an escape
      new TextEncoder().encode(text(bytesOf(doc)).replace('"a/*"', '"a\\/*"')), // an escaped solidus
      new TextEncoder().encode(JSON.stringify({ signed: doc['signed'], signatures: doc['signatures'] })), // key order
    ];
    const pretty = text(bytesOf(doc));
    variants.push(
      new TextEncoder().encode(pretty.replace('"signed":', '"\\u0073igned":')), // the envelope key, escaped
      new TextEncoder().encode(pretty.replace('"_type":', '"\\u005ftype":')), // a signed key, escaped
      new TextEncoder().encode(pretty.replace('"targets"', '"t\\u0061rgets"')), // a signed value, escaped
    );
    for (const v of variants) await root.verifyDelegate('targets', Metadata.fromBytes(v, 'targets'));
    // A field named "signed" inside `signed`, or beside the envelope's, does not confuse what is verified.
    const nested = targetsSigned();
    nested['signed'] = { signed: 'decoy' };
    const nestedDoc = await signDoc(nested, [SIGNER]);
    nestedDoc['x'] = { signed: {} };
    await root.verifyDelegate('targets', Metadata.fromBytes(bytesOf(nestedDoc), 'targets'));
  });
});
