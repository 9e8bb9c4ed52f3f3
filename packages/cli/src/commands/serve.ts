/**
 * `tufa serve DIR`: read-only static HTTP for published repositories (local use, demos, CI); the
 * server itself is ../static-server.ts, shared with `tufa server --read-only DIR`.
 */
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import { positiveInt } from '../options.js';
import { serveReadOnly } from '../static-server.js';

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'serve',
    description: 'serve published repositories read-only over HTTP (local use, demos, CI)',
    arguments: [argument('<dir>', 'publish root to serve')],
    options: [
      option('--host <host>', 'address to listen on', { default: '127.0.0.1' }),
      option('--port <port>', 'port (0 picks a free one)', { parse: positiveInt, default: 8080 }),
    ],
    handler: (ctx, [dir], opts) => serveReadOnly(ctx, dir, opts.host, opts.port),
  }),
];
