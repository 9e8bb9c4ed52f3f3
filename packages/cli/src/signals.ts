/**
 * SIGINT and SIGTERM. A publish in progress stops between two atomic writes and releases its
 * lock (`interruptPublishing` in core); then the process exits with 128 + the signal number (130,
 * 143), the code a shell reports for a process the signal ended. A second signal exits at once.
 * A command that stops on a signal by itself (`tufa serve`) registers its own handler.
 */
import { constants } from 'node:os';

type Handler = (signal: NodeJS.Signals) => void;

let installed = false;
let stopping = false;
let json = false;
let handler: Handler | undefined;

/** The exit code for a signal: 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(signal: 'SIGINT' | 'SIGTERM'): number {
  return 128 + constants.signals[signal];
}

async function interrupt(signal: 'SIGINT' | 'SIGTERM'): Promise<void> {
  const code = signalExitCode(signal);
  let released = 0;
  try {
    // Loaded here, not at start-up: `tufa verify` starts lean. Already loaded by any publish.
    const { interruptPublishing } = await import('@tufa/core/node');
    released = await interruptPublishing();
  } finally {
    const message = `interrupted by ${signal}${released > 0 ? '; the publish stopped between two files and released its lock' : ''}`;
    const hint = released > 0 ? 'run the same command again to complete the change' : null;
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ tufa: 1, error: { message, code: 'INTERRUPTED', exitCode: code, hint } }, null, 2)}\n`,
      );
    }
    process.stderr.write(`Error: ${message}\n${hint ? `Hint: ${hint}\n` : ''}`);
    process.exit(code);
  }
}

function onSignal(signal: 'SIGINT' | 'SIGTERM'): void {
  if (stopping) process.exit(signalExitCode(signal));
  stopping = true;
  if (handler) handler(signal);
  else void interrupt(signal);
}

/** Installs the SIGINT/SIGTERM handlers (once). `jsonOutput`: errors also as JSON on stdout. */
export function installSignalHandlers(jsonOutput = false): void {
  json = jsonOutput;
  if (installed) return;
  installed = true;
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

/** For a command that stops cleanly on a signal by itself (`tufa serve`): called instead. */
export function onInterrupt(h: Handler): void {
  installSignalHandlers(json);
  handler = h;
}
