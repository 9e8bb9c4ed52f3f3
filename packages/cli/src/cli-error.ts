/** Errors the CLI raises itself, carrying an exit code and an optional hint (an exact command). */
// The errors module alone: loading all of @tufa/core here would slow every command's start.
import { ExpiredError, FetchError, isCertificateError, TufError, type TufErrorCode } from '@tufa/core/errors';
import { EXIT, exitCodeFor, exitName } from './exit-codes.js';

export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  /**
   * Stable, for `--json` (docs/cli.md, "JSON output"): a more specific code where one is given
   * (`DECLINED`, `ROOT_NOT_IN_CHAIN`, …), else the name of the exit code (`USAGE`, `NOT_FOUND`).
   */
  readonly code: string;
  constructor(message: string, exitCode: number = EXIT.FAILURE, hint?: string, code?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = hint;
    this.code = code ?? exitName(exitCode);
  }
}

/**
 * The `code` and exit code of anything a command threw: a CliError's own; a library error's
 * `code` and the exit code it maps to; for anything else (a bug) FAILURE and 1.
 */
export function errorCodes(e: unknown): { code: string; exitCode: number } {
  if (e instanceof CliError) return { code: e.code, exitCode: e.exitCode };
  if (isUnauthorized(e)) return { code: 'UNAUTHORIZED', exitCode: EXIT.KEY };
  const code = (e as { code?: unknown } | undefined)?.code;
  if (e instanceof Error && typeof code === 'string' && code.length > 0 && e.name !== 'Error') {
    return { code, exitCode: exitCodeFor(code as TufErrorCode) };
  }
  return { code: 'FAILURE', exitCode: EXIT.FAILURE };
}

export function usage(message: string, hint?: string): CliError {
  return new CliError(message, EXIT.USAGE, hint);
}

export function isCode(e: unknown, code: TufErrorCode): e is TufError {
  return e instanceof TufError && e.code === code;
}

/**
 * A registry, a token service or a trust server answered 401 or 403: the credentials or token
 * were refused, or none were found. Like a wrong or missing passphrase, a credential that could
 * not be used (exit 6, KEY), whichever server refused it and whether the command reads or writes:
 * running the command again does not help, other credentials do.
 */
export function isUnauthorized(e: unknown): e is FetchError {
  return e instanceof FetchError && (e.status === 401 || e.status === 403);
}

/**
 * The hint for an error that carries none: who has to act. Expired metadata is not the
 * client's fault and not fixed by running the client again — the person to tell depends on the
 * role. A server certificate that is not trusted is usually one from a private CA: `--ca` (and
 * the same flag on every command that reaches a registry or a trust server) trusts it.
 */
export function defaultHint(e: unknown): string | undefined {
  if (isUnauthorized(e)) {
    return 'registry credentials come from TUFA_REGISTRY_USERNAME and TUFA_REGISTRY_PASSWORD, the Docker config (docker login HOST) or auth.json; a trust server with static tokens takes TUFA_AUTH_TOKEN (see "Registry options" in docs/cli.md)';
  }
  if (e instanceof FetchError && isCertificateError(e)) {
    return "if the server's certificate is issued by a private CA: give that CA's certificate (PEM) with --ca FILE";
  }
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
