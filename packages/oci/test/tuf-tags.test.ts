/**
 * The tag layout of TUF metadata in a registry (docs/tuf-in-oci.md, "Tags") and the manifest of
 * one metadata file ("Manifests"): injective, inside the tag grammar, refusing what does not fit.
 */
import { describe, expect, it } from 'vitest';
import { isTag } from '../src/reference.js';
import {
  buildLeaseManifest,
  buildMetadataManifest,
  parseLeaseManifest,
  parseMetadataManifest,
} from '../src/tuf/manifest.js';
import {
  decodeRoleName,
  encodeRoleName,
  isReservedTag,
  MAX_ENCODED_ROLE_LENGTH,
  metadataTag,
  parseMetadataFileName,
  parseMetadataTag,
} from '../src/tuf/tags.js';

const enc = new TextEncoder();
const raw = (s: string) => s;

describe('tags', () => {
  it('maps files to the documented tags', () => {
    expect(metadataTag({ role: 'timestamp', version: undefined })).toBe('_tufa.timestamp');
    expect(metadataTag({ role: 'root', version: 3 })).toBe('_tufa.3.root');
    expect(metadataTag({ role: 'targets', version: 12 })).toBe('_tufa.12.targets');
    expect(metadataTag({ role: 'bins-0a', version: 1 })).toBe('_tufa.1.bins-0a');
    expect(metadataTag({ role: 'Targets', version: 1 })).toBe('_tufa.1._54argets');
    expect(metadataTag({ role: 'a.b_c', version: 1 })).toBe('_tufa.1.a_2eb_5fc');
    expect(metadataTag({ role: 'ünï', version: 1 })).toBe('_tufa.1._c3_bcn_c3_af');
  });

  it('is injective on names that collide under simpler encodings, and stays in the tag grammar', () => {
    const roles = [
      'targets',
      'Targets',
      'TARGETS',
      'a.b',
      'a_2eb',
      'a_b',
      'a-b',
      'a b',
      'a/b',
      'a%2Fb',
      '..',
      '.',
      '_',
      '__proto__',
      'constructor',
      '1',
      '1.targets',
      'timestamp',
      'lease',
      'α',
      'ａ',
      '\u0000',
      '🙂',
    ];
    const tags = new Map<string, string>();
    for (const role of roles) {
      for (const version of [1, 2, 10, 2 ** 53 - 1]) {
        const tag = metadataTag({ role, version });
        expect(isTag(tag), tag).toBe(true);
        expect(tags.has(tag), `${tag} twice`).toBe(false);
        tags.set(tag, role);
        expect(parseMetadataTag(tag)).toEqual({ role, version });
      }
    }
    expect(tags.has('_tufa.timestamp')).toBe(false);
    expect(parseMetadataTag('_tufa.timestamp')).toEqual({ role: 'timestamp', version: undefined });
  });

  it('gives every tag at most one meaning: non-canonical encodings, the lease and image tags decode to nothing', () => {
    for (const tag of [
      '_tufa.lease', // the lease
      '_tufa.01.root', // leading zero
      '_tufa.0.root', // version 0
      '_tufa.1._61', // "a" escaped although it needs no escape
      '_tufa.1._2E', // upper-case hex
      '_tufa.1.A', // a capital kept
      '_tufa.1._ff', // not UTF-8
      '_tufa.1.', // empty role
      '_tufa.99999999999999999.root', // more than 2^53
      'latest',
      '1.0',
    ]) {
      expect(parseMetadataTag(tag), tag).toBeUndefined();
    }
    expect(decodeRoleName('a_2eb')).toBe('a.b');
    // The prefix is reserved whatever follows it: tufa sign refuses such image tags.
    expect(['_tufa.x', '_tufa.lease', '_tufa.timestamp'].every(isReservedTag)).toBe(true);
    expect(['latest', '_tufa', 'tufa.1', '_tufb.1'].some(isReservedTag)).toBe(false);
  });

  it('refuses a role name that cannot fit in 128 characters, with a typed error, at any version', () => {
    const fits = 'r'.repeat(MAX_ENCODED_ROLE_LENGTH);
    expect(metadataTag({ role: fits, version: 2 ** 53 - 1 })).toHaveLength(128);
    const e = (() => {
      try {
        metadataTag({ role: `${fits}x`, version: 1 });
      } catch (err) {
        return err as { code: string; message: string };
      }
      throw new Error('expected a refusal');
    })();
    expect(e.code).toBe('UNSAFE_NAME');
    expect(e.message).toContain(
      `at most ${MAX_ENCODED_ROLE_LENGTH} characters once encoded, found ${MAX_ENCODED_ROLE_LENGTH + 1}`,
    );
    // Multi-byte characters count as encoded: 36 × "α" is 36 × 6 = 216 characters.
    expect(() => encodeRoleName('α'.repeat(36))).toThrow(/found 216/);
  });

  it('reads repository file names: versioned files and timestamp.json only', () => {
    expect(parseMetadataFileName('3.root.json', raw)).toEqual({ role: 'root', version: 3 });
    expect(parseMetadataFileName('2.a.b.json', raw)).toEqual({ role: 'a.b', version: 2 });
    expect(parseMetadataFileName('2.a%2Fb.json', decodeURIComponent)).toEqual({ role: 'a/b', version: 2 });
    expect(parseMetadataFileName('timestamp.json', raw)).toEqual({ role: 'timestamp', version: undefined });
    for (const name of [
      'snapshot.json',
      'targets.json',
      '0.root.json',
      '01.root.json',
      'x.json',
      '1..json',
    ]) {
      expect(() => parseMetadataFileName(name, raw), name).toThrow(/consistent-snapshot repositories only/);
    }
  });
});

describe('metadata manifests', () => {
  const file = { role: 'targets', version: 2 } as const;
  const bytes = enc.encode('{"signed":{}}');

  it('are a function of the file name and bytes, and parse back to their one layer', () => {
    const m = buildMetadataManifest(file, bytes);
    expect(buildMetadataManifest(file, bytes)).toEqual(m);
    const doc = JSON.parse(new TextDecoder().decode(m));
    expect(doc).toMatchObject({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.tufa.metadata.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2 },
      layers: [
        {
          mediaType: 'application/vnd.tufa.metadata.v1+json',
          size: bytes.length,
          annotations: { 'org.opencontainers.image.title': '2.targets.json' },
        },
      ],
      annotations: { 'dev.tufa.metadata.role': 'targets', 'dev.tufa.metadata.version': '2' },
    });
    expect(parseMetadataManifest(m, file, 'x')).toEqual({ digest: doc.layers[0].digest, size: bytes.length });
  });

  it('refuse what is not a tufa metadata manifest for exactly this file', () => {
    const good = JSON.parse(new TextDecoder().decode(buildMetadataManifest(file, bytes)));
    const cases: [string, (d: typeof good) => void, RegExp][] = [
      [
        'artifact type',
        (d) => {
          d.artifactType = 'application/vnd.cncf.notary.signature';
        },
        /expected artifactType/,
      ],
      [
        'no artifact type',
        (d) => {
          delete d.artifactType;
        },
        /expected artifactType/,
      ],
      [
        'media type',
        (d) => {
          d.mediaType = 'application/vnd.oci.image.index.v1+json';
        },
        /expected mediaType/,
      ],
      [
        'two layers',
        (d) => {
          d.layers.push(d.layers[0]);
        },
        /exactly one layer, found 2/,
      ],
      [
        'no layer',
        (d) => {
          d.layers = [];
        },
        /exactly one layer, found 0/,
      ],
      [
        'layer type',
        (d) => {
          d.layers[0].mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
        },
        /expected a layer of type/,
      ],
      [
        'bad digest',
        (d) => {
          d.layers[0].digest = 'md5:00';
        },
        /digest/,
      ],
      [
        'bad size',
        (d) => {
          d.layers[0].size = -1;
        },
        /size/,
      ],
      [
        'other version',
        (d) => {
          d.annotations['dev.tufa.metadata.version'] = '1';
        },
        /expected role "targets" version "2"/,
      ],
      [
        'other role',
        (d) => {
          d.annotations['dev.tufa.metadata.role'] = 'snapshot';
        },
        /expected role "targets"/,
      ],
      [
        'no layer media type',
        (d) => {
          delete d.layers[0].mediaType;
        },
        /found null/,
      ],
      // A role name from the registry reaches the message with its bidi override escaped (DESIGN rule 13).
      [
        'other role, disguised',
        (d) => {
          d.annotations['dev.tufa.metadata.role'] = 'targ\u202eets';
        },
        /name role "targ\\u202eets"/,
      ],
    ];
    for (const [what, change, message] of cases) {
      const d = structuredClone(good);
      change(d);
      const e = (() => {
        try {
          parseMetadataManifest(enc.encode(JSON.stringify(d)), file, 'reg/app:_tufa.2.targets');
        } catch (err) {
          return err as { code: string; message: string };
        }
        throw new Error(`${what}: expected a refusal`);
      })();
      expect(e.code, what).toBe('FORMAT');
      expect(e.message, what).toMatch(message);
    }
    // Duplicate keys: two parsers must not read two manifests under one digest.
    const dup = new TextDecoder()
      .decode(buildMetadataManifest(file, bytes))
      .replace('{"schemaVersion":2', '{"schemaVersion":2,"schemaVersion":2');
    expect(() => parseMetadataManifest(enc.encode(dup), file, 'x')).toThrow(/strict JSON/);
  });

  it('leases round-trip and refuse malformed owners and dates', () => {
    const lease = { owner: 'ab'.repeat(16), expires: Date.UTC(2026, 11, 6, 7, 0, 0, 123), released: false };
    expect(parseLeaseManifest(buildLeaseManifest(lease), 'x')).toEqual(lease);
    const bad = new TextDecoder()
      .decode(buildLeaseManifest(lease))
      .replace('2026-12-06T07:00:00.123Z', '2026-02-30T07:00:00.123Z');
    expect(() => parseLeaseManifest(enc.encode(bad), 'x')).toThrow(/expiry/);
  });
});
