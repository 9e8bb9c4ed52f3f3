/** Errors the CLI raises itself, carrying an exit code and an optional hint (an exact command). */
// The errors module alone: loading all of @tufa/core here would slow every command's start.
import { ExpiredError, TufError, type TufErrorCode } from '@tufa/core/errors';
import { EXIT } from './exit-codes.js';

export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, exitCode: number = EXIT.FAILURE, hint?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

export function usage(message: string, hint?: string): CliError {
  return new CliError(message, EXIT.USAGE, hint);
}

export function isCode(e: unknown, code: TufErrorCode): e is TufError {
  return e instanceof TufError && e.code === code;
}

/**
 * The hint for a verification error that carries none: who has to act. Expired metadata is not
 * the client's fault and not fixed by running the client again — the person to tell depends on
 * the role.
 */
export function defaultHint(e: unknown): string | undefined {
  if (!(e instanceof ExpiredError)) return undefined;
  switch (e.role) {
    case 'timestamp':
      return "the publisher's timestamp job has stopped: the timestamp must be re-signed every few hours (tufa timestamp GUN, on a schedule); tell the publisher";
    case 'snapshot':
      return 'the publisher must publish again (any tufa sign, or tufa timestamp GUN, re-signs the snapshot when it is near expiry)';
    case 'root':
      return 'the root holders must sign a new root version (tufa root sign-request, then tufa root publish)';
    case undefined:
      return undefined;
    default:
      return `the publisher must re-sign ${e.role} (any tufa sign or unsign of it re-signs it)`;
  }
}
