/**
 * Compressed answers to metadata GETs (ADR 0027, docs/server.md "Metadata files"): which content
 * coding a request accepts (RFC 9110 §12.5.3), and the gzip form of a file. Every client that
 * matters asks for gzip (python-tuf through urllib3, tuf-js through make-fetch-happen, browsers),
 * and the metadata is JSON full of repeated key names and hex: a large targets file shrinks to
 * about a third, so the server writes a third of the bytes per answer.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzipAsync = promisify(gzipCallback);

/**
 * Files smaller than this are answered uncompressed (unless the client refuses that): they fit in
 * one TCP segment either way, and a zlib stream per answer would cost more than it saves.
 */
export const MIN_GZIP_BYTES = 1024;

/** The gzip form of a metadata file: its bytes and its own strong ETag. */
export interface GzipForm {
  bytes: Uint8Array;
  /** The identity ETag's sha256 with `-gzip`, inside the quotes: another representation. */
  etag: string;
}

/**
 * The ETag of the gzip form of a file whose identity bytes have this sha256: known without
 * compressing, so an `If-None-Match` revalidation never compresses anything.
 */
export function gzipEtag(sha256: string): string {
  return `"${sha256}-gzip"`;
}

/**
 * Compresses `bytes` (zlib's default level, on libuv's thread pool, not on the event loop).
 * Node writes the gzip header with no file name and modification time 0, so the same bytes give
 * the same gzip bytes under the same zlib: the strong ETag stays one representation.
 */
export async function gzipForm(bytes: Uint8Array, sha256: string): Promise<GzipForm> {
  return { bytes: new Uint8Array(await gzipAsync(bytes)), etag: gzipEtag(sha256) };
}

/**
 * A weight as RFC 9110 §12.4.2 writes it: `0`, `0.` and up to three digits, `1`, `1.000`.
 * Anything else is not a weight: undefined.
 */
function weight(text: string): number | undefined {
  return /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/.test(text) ? Number(text) : undefined;
}

/**
 * The weight of each coding an `Accept-Encoding` value lists (names in lower case; `*` as given).
 * A member with a malformed weight is left out: it neither accepts nor refuses anything.
 */
export function parseAcceptEncoding(header: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const member of header.split(',')) {
    const [name, ...params] = member.split(';').map((p) => p.trim());
    if (!name) continue;
    let q: number | undefined = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      q = weight(p.slice(eq + 1).trim());
    }
    if (q === undefined) continue;
    const coding = name.toLowerCase();
    // Listed twice: the higher weight (a proxy joining two headers should not refuse by accident).
    out.set(coding, Math.max(q, out.get(coding) ?? 0));
  }
  return out;
}

/**
 * The coding to answer with, or undefined when the request refuses both gzip and identity
 * (then 406). `gains`: the file is one worth compressing (see MIN_GZIP_BYTES).
 *
 * - No `Accept-Encoding` (or an empty one): identity, as curl without `--compressed` expects.
 * - gzip is accepted when listed (`gzip` or its alias `x-gzip`) with a weight above 0, or, not
 *   listed, when `*` is; `gzip;q=0` refuses it whatever `*` says.
 * - identity is accepted unless refused by `identity;q=0`, or by `*;q=0` without an entry for it.
 * - Both accepted: gzip when the file gains, unless the client lists identity with a higher weight.
 */
export function chooseCoding(header: string | undefined, gains: boolean): 'gzip' | 'identity' | undefined {
  if (header === undefined || header.trim() === '') return 'identity';
  const q = parseAcceptEncoding(header);
  const any = q.get('*');
  const gzip = q.get('gzip') ?? q.get('x-gzip') ?? any ?? 0;
  const listedIdentity = q.get('identity');
  const identity = listedIdentity ?? any ?? 1;
  // Only an identity the client lists itself outweighs gzip: "gzip;q=0.8" alone still asks for it.
  if (gzip > 0 && (identity === 0 || (gains && gzip >= (listedIdentity ?? 0)))) return 'gzip';
  if (identity > 0) return 'identity';
  return undefined;
}
