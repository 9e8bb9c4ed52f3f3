/**
 * TUF 1.0 dates: exactly `YYYY-MM-DDTHH:MM:SSZ`, strictly, on read and on write (DESIGN rule 3).
 * The Date is built from its fields and must round-trip, so `2030-02-30T00:00:00Z` is refused
 * rather than becoming 2 March, and nothing ever becomes a never-expiring NaN.
 */
import { FormatError } from '../errors.js';

const PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

export function parseExpires(s: string, path: string): Date {
  const m = PATTERN.exec(s);
  if (!m) throw new FormatError(`expected a date as YYYY-MM-DDTHH:MM:SSZ, found ${JSON.stringify(s)}`, path);
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  if (Number.isNaN(d.getTime()) || formatExpires(d) !== s) {
    throw new FormatError(`not a real date: ${JSON.stringify(s)}`, path);
  }
  return d;
}

export function formatExpires(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new FormatError('cannot format an invalid date');
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new FormatError(`year ${y} is outside 0000–9999`);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`;
}

/**
 * Expired means the reference time is at or after `expires` (spec 5.3.10). Written as "not
 * before" so that an invalid date on either side fails closed: NaN compares false.
 */
export function isExpiredAt(expires: Date, reference: Date): boolean {
  return !(reference.getTime() < expires.getTime());
}
