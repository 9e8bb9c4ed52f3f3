/**
 * Output discipline: data on stdout (text or --json), progress and warnings on stderr. Progress
 * bars only on a TTY.
 *
 * Every writer here is also the last line of defence of DESIGN rule 13: text goes out through
 * `visible()`, so no control character, escape sequence or bidirectional override reaches the
 * terminal even where a command forgot to escape a value; JSON goes out through `safeJson()`,
 * exact but with those characters as `\u` escapes. Commands still escape each third-party value
 * where they interpolate it (a value must not be able to add a line, which this layer, keeping
 * the lines and tabs the command wrote, cannot tell apart).
 */
import { safeJson, visible } from '@tufa/core/visible';

export interface Output {
  json: boolean;
  /** The command's result: JSON (with a versioned shape) or text lines. */
  result(data: object, text: () => string): void;
  /** One line on stderr, `Warning: …`. */
  warn(message: string): void;
  /** One line on stderr, not with --json. */
  info(message: string): void;
  /**
   * What a person is asked to approve, on stderr whatever the output format (stdout may be a
   * file or a pipe, and a JSON document is no review): text lines.
   */
  review(text: string): void;
  progress(label: string, total?: number): Progress;
}

export interface Progress {
  update(done: number): void;
  end(): void;
}

export const JSON_SCHEMA_VERSION = 1;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function createOutput(json: boolean): Output {
  const tty = process.stderr.isTTY === true;
  return {
    json,
    result(data, text) {
      if (json) process.stdout.write(`${safeJson({ tufa: JSON_SCHEMA_VERSION, ...data })}\n`);
      else {
        const t = visible(text(), { keepLayout: true });
        if (t) process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
      }
    },
    warn(message) {
      process.stderr.write(`Warning: ${visible(message)}\n`);
    },
    info(message) {
      if (!json) process.stderr.write(`${visible(message)}\n`);
    },
    review(text) {
      const t = visible(text, { keepLayout: true });
      process.stderr.write(t.endsWith('\n') ? t : `${t}\n`);
    },
    progress(label, total) {
      if (!tty) return { update() {}, end() {} };
      label = visible(label);
      let last = 0;
      const draw = (done: number) => {
        const now = Date.now();
        if (now - last < 100 && done !== total) return;
        last = now;
        const width = 30;
        const bar =
          total && total > 0
            ? `[${'#'.repeat(Math.round((done / total) * width)).padEnd(width, '.')}] ${Math.floor((done / total) * 100)}%`
            : formatBytes(done);
        process.stderr.write(`\r${label} ${bar}`);
      };
      return {
        update: draw,
        end() {
          process.stderr.write('\r\x1b[K');
        },
      };
    },
  };
}
