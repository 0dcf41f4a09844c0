/**
 * The real presenced for integration tests: in-process (startServer with port-0 listeners on 127.0.0.1 and
 * a temporary SQLite database) or as a child process running the CLI (for kill -9 and restart tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type PresencedConfig } from '../../src/config/index.js';
import { createLogger, type LoggerLevel } from '../../src/observability/index.js';
import { startServer } from '../../src/server/index.js';
import { cliEntry, hermeticEnv, repoRoot, stopChild } from './child-process.js';

export { freePort, freePorts, repoRoot } from './child-process.js';

export interface TestServer {
  readonly config: PresencedConfig;
  readonly dir: string;
  readonly dbPath: string;
  /** Bound port of the first listener of that transport. */
  port(transport: 'udp' | 'tcp'): number;
  readonly udpPort: number;
  readonly tcpPort: number;
  /** Log lines written by the server (JSON), for assertions and failure reports. */
  readonly logs: string[];
  stop(): Promise<void>;
}

function testLogLevel(): LoggerLevel {
  const v = process.env['PRESENCED_TEST_LOG'];
  return v === 'trace' || v === 'debug' || v === 'info' || v === 'warn' || v === 'error' || v === 'fatal' ? v : 'warn';
}

export interface StartTestServerOptions {
  /** Listen on ::1 instead of 127.0.0.1. */
  ipv6?: boolean;
  /** Reuse this directory (and its database) instead of a fresh temporary one; it is not deleted on stop. */
  dir?: string;
  /** Fixed ports (restart tests); 0 = any. */
  udpPort?: number;
  tcpPort?: number;
}

/** Starts presenced in this process. `overrides` are configuration keys (YAML shape: camelCase). */
export async function startTestServer(overrides: Record<string, unknown> = {}, opts: StartTestServerOptions = {}): Promise<TestServer> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'presenced-test-'));
  const dbPath = join(dir, 'presenced.db');
  const host = opts.ipv6 ? '[::1]' : '127.0.0.1';
  const config = parseConfig({
    listen: [`udp:${host}:${opts.udpPort ?? 0}`, `tcp:${host}:${opts.tcpPort ?? 0}`],
    db: `sqlite:${dbPath}`,
    http: 'off',
    logLevel: 'warn',
    ...overrides,
  });
  const logs: string[] = [];
  const echo = process.env['PRESENCED_TEST_LOG'] !== undefined;
  const logger = createLogger({
    level: testLogLevel(),
    destination: {
      write(line: string): void {
        if (logs.length < 5000) logs.push(line);
        if (echo) process.stderr.write(line);
      },
    },
  });
  let server;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const running = server;
  const addresses = running.addresses();
  const port = (t: 'udp' | 'tcp'): number => {
    const a = addresses.find((x) => x.transport === t);
    if (a === undefined) throw new Error(`no ${t} listener`);
    return a.port;
  };
  let stopped = false;
  return {
    config,
    dir,
    dbPath,
    port,
    udpPort: port('udp'),
    tcpPort: port('tcp'),
    logs,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await running.stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ServerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout lines (JSON log) and stderr lines. */
  readonly lines: string[];
  readonly addresses: Array<{ transport: string; host: string; port: number }>;
  port(transport: 'udp' | 'tcp'): number;
  /** Resolves with the exit code (or signal name) once the process ended. */
  readonly exited: Promise<number | string>;
  /** SIGKILL: no shutdown code runs (the point of a crash test). */
  kill9(): Promise<void>;
  /** SIGTERM and wait (killed after timeoutMs). */
  stop(timeoutMs?: number): Promise<number | string>;
}

/**
 * Launches the CLI (`node dist/src/cli/main.js ARGS`, or the TypeScript entry through tsx when running under tsx)
 * and resolves once it logs that it is running with its listening addresses.
 */
export async function spawnServerProcess(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ServerChild> {
  const root = repoRoot();
  const entry = cliEntry();
  const env = hermeticEnv();
  const withLevel = args.includes('--log-level') ? args : [...args, '--log-level', 'info'];
  const child = spawn(process.execPath, [...entry, ...withLevel], {
    cwd: root,
    env: { ...env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('spawn failed');
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  let addresses: Array<{ transport: string; host: string; port: number }> | undefined;
  let onReady: (() => void) | undefined;
  const feed = (stream: NodeJS.ReadableStream): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (lines.length < 5000) lines.push(line);
        if (process.env['PRESENCED_TEST_LOG'] !== undefined) process.stderr.write(`[child] ${line}\n`);
        if (addresses === undefined && line.startsWith('{')) {
          try {
            const obj = JSON.parse(line) as { msg?: string; addresses?: unknown };
            if (typeof obj.msg === 'string' && /^presenced (listening|is running)$/.test(obj.msg) && Array.isArray(obj.addresses)) {
              const list = obj.addresses as Array<Record<string, unknown>>;
              addresses = list.map((a) => ({
                transport: String(a['transport'] ?? a['protocol']),
                host: String(a['host'] ?? a['address']),
                port: Number(a['port']),
              }));
              onReady?.();
            }
          } catch {
            // Not JSON: ignore.
          }
        }
        nl = buf.indexOf('\n');
      }
    });
  };
  if (child.stdout) feed(child.stdout);
  if (child.stderr) feed(child.stderr);
  const timeoutMs = opts.timeoutMs ?? 20000;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`presenced did not report its listeners within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`));
    }, timeoutMs);
    onReady = (): void => {
      clearTimeout(t);
      resolve();
    };
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`presenced exited (${code}) before listening:\n${lines.slice(-20).join('\n')}`));
    });
  });
  const addrs = addresses ?? [];
  return {
    child,
    pid,
    lines,
    addresses: addrs,
    port(transport: 'udp' | 'tcp'): number {
      const a = addrs.find((x) => x.transport === transport);
      if (a === undefined) throw new Error(`no ${transport} listener`);
      return a.port;
    },
    exited,
    async kill9(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop(timeoutMs = 10000): Promise<number | string> {
      return stopChild(child, exited, () => child.kill('SIGTERM'), timeoutMs);
    },
  };
}
