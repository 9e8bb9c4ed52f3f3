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

/** `-t, --type`: the key types tufa generates. */
export function keyTypeOption(description: string) {
  return option('-t, --type <type>', description, {
    default: 'ed25519',
    choices: ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'],
  });
}
