/**
 * A presenced started as a separate process for benchmarks, with the figures read from /proc:
 * CPU time (utime + stime) and resident memory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEntry, repoRoot, stopChild } from '../test/support/child-process.js';

export { freePort, repoRoot } from '../test/support/child-process.js';

/** How to launch the CLI: the compiled entry when running compiled, else the TypeScript source through tsx. */
export function cliCommand(): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: cliEntry() };
}

const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** Resident set size of a process in bytes (0 when /proc does not say). */
function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Sends OPTIONS over UDP until a 200 comes back; resolves false after timeoutMs. */
/**
 * Follows a spawned server until it answers OPTIONS on 127.0.0.1:port (20 s at most) or exits: its last 8,000
 * characters of output are kept for the error message.
 */
export async function watchStart(
  child: ChildProcess,
  name: string,
  port: number,
): Promise<{ exited: Promise<void>; pid: number; ready: boolean; output: () => string }> {
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${name}`);
  const ready = await Promise.race([probeOptions(port, 20000), exited.then(() => false)]);
  return { exited, pid, ready, output: () => out };
}

export async function probeOptions(port: number, timeoutMs: number): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const local = sock.address().port;
  try {
    return await new Promise<boolean>((resolve) => {
      const deadline = setTimeout(() => {
        clearInterval(timer);
        resolve(false);
      }, timeoutMs);
      sock.on('message', (m) => {
        if (/^SIP\/2\.0 200 /.test(m.toString('latin1'))) {
          clearTimeout(deadline);
          clearInterval(timer);
          resolve(true);
        }
      });
      let n = 0;
      const send = (): void => {
        n++;
        const msg =
          `OPTIONS sip:ping@127.0.0.1:${port} SIP/2.0\r\n` +
          `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKprobe${n}x${Date.now()};rport\r\n` +
          `From: <sip:bench@127.0.0.1>;tag=probe${n}\r\nTo: <sip:ping@127.0.0.1>\r\n` +
          `Call-ID: probe${n}.${Date.now()}@bench\r\nCSeq: ${n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
        sock.send(msg, port, '127.0.0.1');
      };
      const timer = setInterval(send, 200);
      send();
    });
  } finally {
    sock.close();
  }
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** utime + stime of the server in microseconds. */
  cpuMicros(): number;
  /** Resident set size in bytes. */
  rssBytes(): number;
  stop(): Promise<void>;
  /** Last lines the server wrote (for error reports). */
  output(): string;
}

export async function startServerProcess(opts: { port: number; db: string; extraArgs?: string[] }): Promise<ServerProcess> {
  const { cmd, args } = cliCommand();
  const child = spawn(
    cmd,
    [
      ...args,
      '--listen', `udp:127.0.0.1:${opts.port}`,
      '--listen', `tcp:127.0.0.1:${opts.port}`,
      '--db', `sqlite:${opts.db}`,
      '--http', 'off',
      '--log-level', 'warn',
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot() },
  );
  const { exited, pid, ready, output } = await watchStart(child, 'presenced', opts.port);
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`presenced did not answer OPTIONS on 127.0.0.1:${opts.port}:\n${output()}`);
  }
  return {
    child,
    pid,
    port: opts.port,
    cpuMicros(): number {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      return (ticks * 1e6) / CLK_TCK;
    },
    rssBytes: () => rssOf(pid),
    stop: () => stopChild(child, exited, () => child.kill('SIGTERM')),
    output,
  };
}

export interface MemoryServer {
  readonly pid: number;
  readonly port: number;
  /** Memory after a full GC in the server process. */
  measure(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }>;
  rssBytes(): number;
  stop(): Promise<void>;
}

/** The server in a child started with --expose-gc (bench/memory-server.ts), answering 'measure' over IPC. */
export async function startMemoryServer(opts: { port: number; db: string }): Promise<MemoryServer> {
  const root = repoRoot();
  const { args } = cliCommand();
  const viaTsx = args[0] === '--import';
  const entry = viaTsx ? ['--import', 'tsx', join(root, 'bench', 'memory-server.ts')] : [join(root, 'dist', 'bench', 'memory-server.js')];
  const child = spawn(process.execPath, ['--expose-gc', ...entry, String(opts.port), opts.db], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the memory server');
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => child.once('message', (m) => resolve(m === 'ready'))),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20000).unref()),
  ]);
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error('memory server did not start');
  }
  return {
    pid,
    port: opts.port,
    measure() {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('memory server did not answer')), 20000);
        child.once('message', (m) => {
          clearTimeout(t);
          resolve(m as { rss: number; heapUsed: number; external: number; arrayBuffers: number });
        });
        child.send('measure');
      });
    },
    rssBytes: () => rssOf(pid),
    stop: () => stopChild(child, exited, () => child.send('stop')),
  };
}
