#!/usr/bin/env node
import { ctl } from './ctl.js';
import { serve, type CliIo } from './serve.js';
import { userCommand } from './user.js';

type Command = (argv: readonly string[], io: CliIo) => Promise<number | 'running'>;

/**
 * Subcommands by name: the first argument picks one when it names one; otherwise the whole argv configures
 * the server, and a stray word is a usage error.
 */
const SUBCOMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  // The management API from a shell (ctl.ts).
  ['ctl', (argv, io) => ctl(argv, io)],
  // SIP users: through the running server's API, or the database directly (user.ts).
  ['user', (argv, io) => userCommand(argv, io)],
]);

async function main(argv: readonly string[]): Promise<void> {
  const io: CliIo = {
    env: process.env,
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
  const first = argv[0];
  const sub = first !== undefined ? SUBCOMMANDS.get(first) : undefined;
  const result = sub ? await sub(argv.slice(1), io) : await serve(argv, io);
  // A running server keeps the event loop alive and exits from its signal handlers.
  if (result === 'running') return;
  process.exitCode = result;
  // Natural exit lets stdout drain; the unref'd timer only fires if a half-started server left handles open.
  setTimeout(() => process.exit(result), 1000).unref();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`presenced: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
