/** Flags that several commands declare alike, and the parsers of flag values. */
import { CliError } from './cli-error.js';
import { option } from './command.js';
import { EXIT } from './exit-codes.js';

/** For repeatable flags: each use adds one value. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A whole number, at least 0, written in digits only. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || !/^\d+$/.test(value))
    throw new CliError(`not a whole number: ${value}`, EXIT.USAGE);
  return n;
}

/** Seconds to wait, from 1 to a day: 0 would fail every request, more is a hang, not a wait. */
export function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 86_400)
    throw new CliError(
      `expected a number of seconds from 1 to 86400, found ${JSON.stringify(value)}`,
      EXIT.USAGE,
    );
  return n;
}

/** `-t, --type`: the key types tufa generates. */
export function keyTypeOption(description: string) {
  return option('-t, --type <type>', description, {
    default: 'ed25519',
    choices: ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'],
  });
}
