/** What every command handler gets besides its arguments and options. */
import type { Output } from './output.js';

export interface Context {
  out: Output;
  /** --debug: stack traces on errors. */
  debug: boolean;
}
