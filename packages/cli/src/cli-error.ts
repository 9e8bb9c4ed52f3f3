/** Errors the CLI raises itself, carrying an exit code and an optional hint (an exact command). */
// The errors module alone: loading all of @tufa/core here would slow every command's start.
import { TufError, type TufErrorCode } from '@tufa/core/errors';
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
