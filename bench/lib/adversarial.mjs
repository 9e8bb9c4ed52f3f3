/**
 * Hostile inputs for the strict reader: unsigned targets metadata of about the same size (5 MB
 * by default, the client's default limit for targets), each built to make parsing expensive
 * before any signature is checked. Every file is valid targets metadata (hostile content sits
 * where metadata allows any JSON: target paths and `custom`), so each goes through exactly the
 * path a client takes: `Metadata.fromBytes(bytes, 'targets')`.
 *
 * The baseline is a well-formed file of the same size: python-tuf's layout (indent 1, sorted
 * keys) with container-tag target paths.
 */
import { createHash } from 'node:crypto';

const SHA = (i) => createHash('sha256').update(`blob-${i}`).digest('hex');
const pad = (i) => String(i).padStart(8, '0');
const tag = (i) => `registry.example.com/team/app-${pad(i)}:v${i}`;

/** A JSON string literal spelling every UTF-16 unit of `s` as `\uXXXX`. */
const allEscaped = (s) =>
  `"${s
    .split('')
    .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .join('')}"`;

/** A fixed pseudo-random permutation (a plain sort can be fast on reversed input). */
function shuffle(a) {
  let seed = 12345;
  for (let i = a.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Members `make(0), make(1), …` until their text reaches `size` bytes. */
function fill(size, make) {
  const out = [];
  for (let i = 0, n = 0; n < size; i++) {
    const m = make(i);
    out.push(m);
    n += m.length + 2;
  }
  return out;
}

/** An entry `"path": {...}` in canonical member order, or reversed. */
function entry(pathLiteral, i, { reverse = false, custom } = {}) {
  const hashes = `"hashes": {"sha256": "${SHA(i)}"}`;
  const length = `"length": ${1024 + ((i * 7919) % 1_000_000)}`;
  const c = custom === undefined ? [] : [`"custom": ${custom}`];
  const members = [...c, hashes, length];
  return `${pathLiteral}: {${(reverse ? members.reverse() : members).join(', ')}}`;
}

/** A targets document around the given `targets` members; top-level members reversed if asked. */
function targetsDoc(members, { reverse = false } = {}) {
  const signedMembers = [
    '"_type": "targets"',
    '"expires": "2100-01-01T00:00:00Z"',
    '"spec_version": "1.0.31"',
    `"targets": {\n ${members.join(',\n ')}\n}`,
    '"version": 1',
  ];
  const signed = `{${(reverse ? signedMembers.reverse() : signedMembers).join(', ')}}`;
  const top = ['"signatures": [{"keyid": "00", "sig": "00"}]', `"signed": ${signed}`];
  return `{${(reverse ? top.reverse() : top).join(', ')}}`;
}

/** `{"z…":…, …, "a":…}` nested `depth` deep, every level out of order. */
function unsortedChain(depth, leaf) {
  let s = leaf;
  for (let d = 0; d < depth; d++) s = `{"b": ${s}, "a": ${d}}`;
  return s;
}

/** The shapes, by name: each a function of the target size in bytes returning the file text. */
export const SHAPES = {
  'well-formed (python-tuf layout, sorted keys)': (size) => {
    // Paths in increasing i are already in code-point order (zero-padded numbers).
    const targets = {};
    for (let i = 0, n = 0; n < size; i++) {
      const t = { hashes: { sha256: SHA(i) }, length: 1024 + ((i * 7919) % 1_000_000) };
      targets[tag(i)] = t;
      n += tag(i).length + JSON.stringify(t, null, 1).length + 24; // + indentation and quotes
    }
    const signed = {
      _type: 'targets',
      expires: '2100-01-01T00:00:00Z',
      spec_version: '1.0.31',
      targets,
      version: 1,
    };
    return JSON.stringify({ signatures: [{ keyid: '00', sig: '00' }], signed }, null, 1);
  },
  'every object in reverse key order': (size) =>
    targetsDoc(fill(size, (i) => entry(JSON.stringify(tag(i)), i, { reverse: true })).reverse(), {
      reverse: true,
    }),
  'target paths shuffled': (size) => targetsDoc(shuffle(fill(size, (i) => entry(JSON.stringify(tag(i)), i)))),
  'paths with \\" and \\\\ escapes, reversed': (size) =>
    targetsDoc(fill(size, (i) => entry(`"registry.example.com/\\"team\\"/app\\\\${pad(i)}"`, i)).reverse()),
  'every string character \\u-escaped, shuffled': (size) =>
    targetsDoc(
      shuffle(
        fill(size, (i) => {
          const e = entry(allEscaped(tag(i)), i);
          return e.replace(`"${SHA(i)}"`, allEscaped(SHA(i)));
        }),
      ),
    ),
  'long paths sharing a 2,000-byte prefix, shuffled': (size) =>
    targetsDoc(shuffle(fill(size, (i) => entry(JSON.stringify(`${'a/'.repeat(1000)}${pad(i)}`), i)))),
  'long escaped paths sharing a prefix, shuffled': (size) =>
    targetsDoc(shuffle(fill(size, (i) => entry(`"${'\\"'.repeat(500)}${pad(i)}"`, i)))),
  'one path of 1.5 MB of escapes among short ones, shuffled': (size) => {
    const huge = entry(`"m${'\\"'.repeat(Math.floor(size * 0.15))}"`, 0);
    return targetsDoc(shuffle([huge, ...fill(size * 0.7, (i) => entry(JSON.stringify(tag(i + 1)), i + 1))]));
  },
  'custom: many small objects in reverse key order': (size) =>
    targetsDoc(
      fill(size, (i) =>
        entry(JSON.stringify(tag(i)), i, {
          custom: `[${Array.from({ length: 20 }, (_, k) => (k % 2 ? '{"c": 1, "b": 2, "a": 3}' : '{"b": 1, "a": 2}')).join(', ')}]`,
        }),
      ),
    ),
  'custom: unsorted objects nested 60 deep': (size) =>
    targetsDoc(
      fill(size, (i) => entry(JSON.stringify(tag(i)), i, { custom: unsortedChain(60, `"${pad(i)}"`) })),
    ),
  'custom: strings of two-byte escapes (\\n, \\")': (size) =>
    targetsDoc(fill(size, (i) => entry(JSON.stringify(tag(i)), i, { custom: `"${'\\n\\"'.repeat(100)}"` }))),
};

export const BASELINE = 'well-formed (python-tuf layout, sorted keys)';
