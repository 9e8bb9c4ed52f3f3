#!/usr/bin/env node
/**
 * `docker-tufa`: tufa as a Docker CLI plugin, so that `docker tufa sign|verify|inspect|resolve|…`
 * is `tufa …` (the same commands, output, `--json` and exit codes); hints read `docker tufa …`.
 * The protocol is in docker-plugin.ts. Installed by linking it into Docker's plugin directory:
 *   mkdir -p ~/.docker/cli-plugins && ln -sf "$(command -v docker-tufa)" ~/.docker/cli-plugins/docker-tufa
 */
import { usage } from './cli-error.js';
import { METADATA_SUBCOMMAND, PLUGIN_NAME, parseInvocation, pluginMetadata } from './docker-plugin.js';
import { main, renderError } from './main.js';
import { createOutput } from './output.js';
import { installSignalHandlers } from './signals.js';

const COMMAND_NAME = `docker ${PLUGIN_NAME}`;
const invocation = parseInvocation(process.argv.slice(2));

if (invocation.kind === 'metadata') {
  // Exactly one JSON object on stdout: Docker parses it to list and validate the plugin.
  process.stdout.write(`${JSON.stringify(pluginMetadata())}\n`);
} else if (invocation.kind === 'not-docker') {
  const found = invocation.found === undefined ? 'nothing' : `"${invocation.found}"`;
  process.exitCode = renderError(
    usage(
      `docker-tufa is the Docker CLI plugin of tufa, run by Docker as \`${COMMAND_NAME} …\` (expected "${PLUGIN_NAME}" or ${METADATA_SUBCOMMAND} after Docker's global options, found ${found})`,
      `${COMMAND_NAME} --help  (or, without Docker: tufa --help)`,
    ),
    createOutput(process.argv.includes('--json')),
    false,
  );
} else {
  // Docker's `--config DIR` is where its config.json (registry credentials) is, for this command.
  if (invocation.dockerConfig !== undefined) process.env['DOCKER_CONFIG'] = invocation.dockerConfig;
  // As bin.ts: SIGINT/SIGTERM release a publish lock before the process exits.
  installSignalHandlers(invocation.args.includes('--json'));
  main(['node', 'docker-tufa', ...invocation.args], { commandName: COMMAND_NAME }).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
