/**
 * The public surface of @tufa/core, per subpath (ADR 0013): what each entry exports at run time
 * is listed here, so adding or removing an export is a deliberate change to this file, and the
 * internals named in the core-API issue stay internal.
 */
import { describe, expect, it } from 'vitest';

const ENTRIES = [
  '@tufa/core',
  '@tufa/core/node',
  '@tufa/core/errors',
  '@tufa/core/notary',
  '@tufa/core/visible',
];

async function names(entry: string): Promise<string[]> {
  return Object.keys(await import(entry)).sort();
}

describe('public API', () => {
  it.each(ENTRIES)('%s exports only its listed values', async (entry) => {
    expect(await names(entry)).toMatchSnapshot();
  });

  it('internals are not exported from any entry', async () => {
    const internals = [
      'pythonJson',
      'MAX_DEPTH',
      'parseStrict',
      'TEMP_PREFIX',
      'matchesNoProxy',
      'canonicalString',
      'compareCodePoints',
      'boundedStream',
      'roleNameToFileStem',
      'transactionBackoff',
    ];
    for (const entry of ENTRIES) {
      const exported = new Set(await names(entry));
      expect(
        internals.filter((n) => exported.has(n)),
        entry,
      ).toEqual([]);
    }
  });

  it('the root entry has no Notary reader (it is @tufa/core/notary)', async () => {
    const root = new Set(await names('@tufa/core'));
    expect([...root].filter((n) => /notary|^dct/i.test(n))).toEqual([]);
  });

  it('the errors entry is the same tree as the root entry', async () => {
    const root = (await import('@tufa/core')) as Record<string, unknown>;
    const errors = (await import('@tufa/core/errors')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(errors)) expect(root[k], k).toBe(v);
  });
});
