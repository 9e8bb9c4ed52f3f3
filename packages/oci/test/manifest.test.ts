/** Manifest parsing from bytes: what tufa reads (media type, index entries) and what it refuses. */
import { describe, expect, it } from 'vitest';
import { nextLink } from '../src/client.js';
import { MEDIA_TYPES, parseManifest } from '../src/manifest.js';

const D = `sha256:${'c'.repeat(64)}`;
const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('parseManifest', () => {
  it('reads an index: every entry, with its platform when given', () => {
    const m = parseManifest(
      bytes({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [
          {
            mediaType: MEDIA_TYPES.ociManifest,
            digest: D,
            size: 7,
            platform: {
              architecture: 'arm64',
              os: 'linux',
              variant: 'v8',
              'os.version': '1',
              'os.features': ['f'],
            },
          },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 0 },
        ],
      }),
      MEDIA_TYPES.ociIndex,
    );
    expect(m.manifests).toEqual([
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: D,
        size: 7,
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8', osVersion: '1', osFeatures: ['f'] },
      },
      { mediaType: MEDIA_TYPES.ociManifest, digest: D, size: 0, platform: undefined },
    ]);
  });

  it('a Docker manifest list is an index too; a manifest has no entries', () => {
    expect(
      parseManifest(bytes({ schemaVersion: 2, manifests: [] }), MEDIA_TYPES.dockerManifestList).manifests,
    ).toEqual([]);
    expect(parseManifest(bytes({ schemaVersion: 2 }), MEDIA_TYPES.dockerManifest).manifests).toBeUndefined();
  });

  it.each([
    ['{"schemaVersion":2,"schemaVersion":2}', /not strict JSON/],
    ['{"schemaVersion":1}', /expected schemaVersion 2/],
    ['[]', /expected a JSON object/],
    [
      `{"schemaVersion":2,"mediaType":"${MEDIA_TYPES.ociManifest}"}`,
      /mediaType: expected the media type the registry served/,
    ],
    ['{"schemaVersion":2}', /manifest.manifests: expected an array/],
    [
      `{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:1","size":1}]}`,
      /manifests\[0\].digest/,
    ],
    [`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"${D}","size":-1}]}`, /manifests\[0\].size/],
    [`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"${D}","size":1.5}]}`, /not strict JSON/],
    [
      `{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"${D}","size":1,"platform":{"os":"linux"}}]}`,
      /platform.architecture/,
    ],
  ])('refuses %s (FORMAT)', (text, message) => {
    let error: unknown;
    try {
      parseManifest(bytes(text), MEDIA_TYPES.ociIndex);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'FORMAT' });
    expect((error as Error).message).toMatch(message);
  });
});

describe('nextLink (RFC 8288)', () => {
  it.each([
    [['</v2/a/tags/list?n=2&last=b>; rel="next"'], '/v2/a/tags/list?n=2&last=b'],
    [['<https://r.io/v2/a/tags/list?last=b>; rel=next'], 'https://r.io/v2/a/tags/list?last=b'],
    [['</x>; rel="prev", </y>; rel="next"'], '/y'],
    [['</x>; rel="prev"', '</y>; title="t"; rel="next last"'], '/y'],
    [['</x>; rel="prev"'], undefined],
    [[], undefined],
  ])('%j → %s', (values, expected) => {
    expect(nextLink(values)).toBe(expected);
  });
});
