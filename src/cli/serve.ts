import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  loadConfig,
  parseDb,
  parseFlags,
  presencedVersion,
  type LoadedConfig,
  type PresencedConfig,
} from '../config/index.js';
import { createLogger, type Logger } from '../observability/index.js';
import type { StartServer } from '../server/index.js';
import { renderHelp } from './help.js';

export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Exit codes: a supervisor restarts on 1; 2 means a human must fix the configuration first. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Past this, a stop() that hangs must not keep a supervisor waiting: we exit anyway. */
const FORCE_EXIT_MS = 8000;

function ensureDatabaseDirectory(config: PresencedConfig, cwd: string): void {
  const db = parseDb(config.db);
  if (db.kind !== 'sqlite') return;
  // ':memory:' and URI filenames ('file:...') name no directory we should create.
  if (db.path === ':memory:' || db.path.startsWith('file:')) return;
  mkdirSync(dirname(resolve(cwd, db.path)), { recursive: true });
}

async function loadStartServer(): Promise<StartServer | undefined> {
  // The composition root is imported lazily so that --help, --version and config errors
  // never pay for (or fail on) loading the whole server.
  const mod = (await import('../server/index.js')) as Partial<{ startServer: StartServer }>;
  return typeof mod.startServer === 'function' ? mod.startServer : undefined;
}

function installCrashHandlers(logger: Logger): void {
  // State is durable and a supervisor restarts us: after an unexpected error, dying is safer than limping on.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: exiting');
    process.exit(EXIT_FAILURE);
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection: exiting');
    process.exit(EXIT_FAILURE);
  });
}

/**
 * The default command: load the configuration, start the server and run until SIGTERM/SIGINT.
 * Resolves with an exit code when it ends before the server runs (help, version, errors);
 * once the server runs, the process ends from the signal handlers.
 */
export async function serve(argv: readonly string[], io: CliIo): Promise<number | 'running'> {
  let loaded: LoadedConfig;
  try {
    const flags = parseFlags(argv);
    if (flags.help) {
      io.stdout(renderHelp());
      return EXIT_OK;
    }
    if (flags.version) {
      io.stdout(`presenced ${presencedVersion()}\n`);
      return EXIT_OK;
    }
    loaded = loadConfig({ argv, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }

  const { config, configFile, warnings } = loaded;
  const logger = createLogger({ level: config.logLevel });
  installCrashHandlers(logger);
  for (const warning of warnings) logger.warn(warning);
  logger.info({ version: presencedVersion(), configFile, config }, 'starting presenced');

  let stopRequested: NodeJS.Signals | undefined;
  let server: Awaited<ReturnType<StartServer>> | undefined;
  let stopping = false;

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Deliberately not unref'd: if stop() never settles yet leaves nothing running, we still want the log line.
    setTimeout(() => {
      logger.error({ timeoutMs: FORCE_EXIT_MS }, 'shutdown did not finish in time: forcing exit');
      process.exit(EXIT_FAILURE);
    }, FORCE_EXIT_MS);
    (server ? server.stop() : Promise.resolve()).then(
      () => {
        logger.info('stopped');
        process.exit(EXIT_OK);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  // Installed before the (possibly slow) start so a signal during start-up still ends in a clean stop.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (server || stopping) stop(signal);
    else if (stopRequested === undefined) {
      stopRequested = signal;
      logger.info({ signal }, 'signal received during start-up: stopping once started');
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    ensureDatabaseDirectory(config, io.cwd);
    const startServer = await loadStartServer();
    if (!startServer) {
      logger.fatal('this build has no server (src/server/index.ts does not export startServer)');
      return EXIT_FAILURE;
    }
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal({ err }, err.message);
      io.stderr(`${err.message}\n`);
      return EXIT_USAGE;
    }
    logger.fatal({ err }, 'start-up failed');
    return EXIT_FAILURE;
  }

  logger.info({ addresses: server.addresses() }, 'presenced is running');
  if (stopRequested !== undefined) stop(stopRequested);
  return 'running';
}
