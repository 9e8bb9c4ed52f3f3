#!/usr/bin/env node
/**
 * The `tufa` command. Start-up is kept lean for `tufa verify`, which every CI job runs: command
 * implementations load only when their command runs.
 */
import { main } from './main.js';
import { installSignalHandlers } from './signals.js';

// SIGINT/SIGTERM release a publish lock before the process exits (./signals.ts).
installSignalHandlers(process.argv.includes('--json'));
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
