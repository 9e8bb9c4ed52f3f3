/**
 * Asking a person before signing what someone else wrote: on a terminal a yes/no question after
 * the review; without one (a pipe, CI, a script) a refusal unless `--yes` says the review was
 * done. Never a silent default to yes.
 */
import { createInterface } from 'node:readline';
import { visible } from '@tufa/core/visible';
import { CliError, usage } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/** Both ends a person uses: the answer is read from stdin, the question written to stderr. */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Asks on the terminal; true only for `y` or `yes`. Ctrl-C, Ctrl-D or anything else is no. */
export function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
    let answer: boolean | undefined;
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      if (answer === undefined) process.stderr.write('\n');
      resolve(answer ?? false);
    });
    rl.question(visible(question), (a) => {
      answer = /^\s*y(es)?\s*$/i.test(a);
      rl.close();
    });
  });
}

/**
 * Returns when the person agreed (or `yes`); otherwise throws: a usage error without a terminal
 * (the command needs `--yes`), a plain failure when the person answered no.
 */
export async function confirm(question: string, what: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!interactive()) {
    throw usage(
      `${what}: not confirmed (this is not a terminal to ask on, and --yes was not given)`,
      'check the review above, then run the same command with --yes',
    );
  }
  if (!(await askYesNo(question)))
    throw new CliError(`${what}: declined`, EXIT.FAILURE, undefined, 'DECLINED');
}
