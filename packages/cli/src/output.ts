/**
 * Output discipline: data on stdout (text or --json), progress and warnings on stderr. Progress
 * bars only on a TTY.
 */
export interface Output {
  json: boolean;
  /** The command's result: JSON (with a versioned shape) or text lines. */
  result(data: object, text: () => string): void;
  warn(message: string): void;
  info(message: string): void;
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
      if (json) process.stdout.write(`${JSON.stringify({ tufa: JSON_SCHEMA_VERSION, ...data }, null, 2)}\n`);
      else {
        const t = text();
        if (t) process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
      }
    },
    warn(message) {
      process.stderr.write(`Warning: ${message}\n`);
    },
    info(message) {
      if (!json) process.stderr.write(`${message}\n`);
    },
    progress(label, total) {
      if (!tty) return { update() {}, end() {} };
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
