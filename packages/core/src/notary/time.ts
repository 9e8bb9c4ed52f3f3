/**
 * Notary v1 dates: Go's `time.Time` JSON form (RFC 3339 with up to nine fractional digits and
 * `Z` or a `±hh:mm` offset), e.g. `2036-11-19T16:56:15.322734157Z`. Parsed strictly (DESIGN
 * rule 3): built from its fields and round-tripped, never through a lenient `new Date(string)`.
 */
import { FormatError } from '../errors.js';

const RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * The instant a Notary date names. Fractions below a millisecond are dropped, which makes an
 * expiry earlier by less than a millisecond: never later than the signer meant.
 * @throws {@link errors!FormatError | FormatError} not an RFC 3339 date string, or not a real date.
 */
export function parseNotaryTime(value: unknown, path: string): Date {
  if (typeof value !== 'string') throw new FormatError('expected a date string', path);
  const m = RE.exec(value);
  if (!m) throw new FormatError(`not an RFC 3339 date: ${JSON.stringify(value)}`, path);
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3) || '0');
  let offsetMin = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw new FormatError(`bad UTC offset in ${JSON.stringify(value)}`, path);
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(local);
  // Round trip of the fields: rejects Feb 30, hour 24, second 60 and the like.
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi ||
    check.getUTCSeconds() !== s
  ) {
    throw new FormatError(`not a valid date: ${JSON.stringify(value)}`, path);
  }
  return new Date(local - offsetMin * 60_000);
}
