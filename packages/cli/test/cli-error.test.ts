/**
 * The `code` and exit code of what a command throws (`--json`'s `error.code`): a CliError's own
 * or the name of its exit code, a library error's code, FAILURE for anything else; never null.
 */
import { FetchError, NotFoundError, ThresholdError } from '@tufa/core';
import { describe, expect, it } from 'vitest';
import { CliError, errorCodes, usage } from '../src/cli-error.js';
import { EXIT } from '../src/exit-codes.js';

describe('errorCodes', () => {
  it.each(Object.entries(EXIT).filter(([name]) => name !== 'OK' && name !== 'EXPIRING'))(
    'a CliError with exit %s and no code of its own is code %s',
    (name, exitCode) => {
      expect(errorCodes(new CliError('x', exitCode))).toEqual({ code: name, exitCode });
    },
  );

  it('a CliError with a code of its own keeps it', () => {
    expect(errorCodes(new CliError('x', EXIT.FAILURE, undefined, 'DECLINED'))).toEqual({
      code: 'DECLINED',
      exitCode: EXIT.FAILURE,
    });
    expect(errorCodes(usage('x'))).toEqual({ code: 'USAGE', exitCode: EXIT.USAGE });
  });

  it("a library error keeps the library's code and its exit code", () => {
    expect(errorCodes(new ThresholdError('x'))).toEqual({ code: 'THRESHOLD', exitCode: EXIT.UNTRUSTED });
    expect(errorCodes(new NotFoundError('x'))).toEqual({ code: 'NOT_FOUND', exitCode: EXIT.NOT_FOUND });
    expect(errorCodes(new FetchError('x'))).toEqual({ code: 'FETCH', exitCode: EXIT.IO });
  });

  it('a 401 or 403 answer is UNAUTHORIZED, exit 6 (KEY), whoever sent it; other HTTP errors stay FETCH', () => {
    for (const status of [401, 403]) {
      expect(errorCodes(new FetchError('x', status))).toEqual({ code: 'UNAUTHORIZED', exitCode: EXIT.KEY });
    }
    expect(errorCodes(new FetchError('x', 500))).toEqual({ code: 'FETCH', exitCode: EXIT.IO });
  });

  it('anything else (a bug) is FAILURE, exit 1', () => {
    expect(errorCodes(new Error('x'))).toEqual({ code: 'FAILURE', exitCode: EXIT.FAILURE });
    expect(errorCodes('a string')).toEqual({ code: 'FAILURE', exitCode: EXIT.FAILURE });
    expect(errorCodes(undefined)).toEqual({ code: 'FAILURE', exitCode: EXIT.FAILURE });
  });
});
