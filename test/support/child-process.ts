/**
 * Helpers for running presenced as a child process, shared by the integration tests (test-server.ts) and the
 * benchmarks (bench/server-process.ts). No src/ imports, so a benchmark does not load the server in its own process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file with a package.json (same from src and dist). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('package.json not found above test/support');
}

/**
 * Node arguments that run the CLI: the compiled entry when this file runs compiled (dist/test/support) or tsx is
 * not installed, else the TypeScript source through tsx.
 */
export function cliEntry(): string[] {
  const root = repoRoot();
  const compiled = fileURLToPath(import.meta.url).includes(`${join(root, 'dist')}`);
  if (compiled || !existsSync(join(root, 'node_modules', 'tsx'))) return [join(root, 'dist', 'src', 'cli', 'main.js')];
  return ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];
}

/** A port free for both UDP and TCP on 127.0.0.1 (for servers restarted on the same port). */
export async function freePort(): Promise<number> {
  return freePorts(1);
}

/**
 * The first of `count` consecutive ports free on 127.0.0.1 for both TCP and UDP. baresip binds its TLS listener on
 * TCP at sip_listen's port + 1: with only the first checked, a port taken meanwhile by another test made it fail.
 */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (port + count - 1 > 65535) continue;
    let ok = true;
    for (let p = port; ok && p < port + count; p++) ok = (p === port || (await tcpFree(p))) && (await udpFree(p));
    if (ok) return port;
  }
  throw new Error('no free port');
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.on('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.on('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

/**
 * Asks a child to end (`ask`, e.g. SIGTERM) unless it already has, and resolves with `exited`; a child still
 * there after timeoutMs is killed with SIGKILL.
 */
export async function stopChild<T>(child: ChildProcess, exited: Promise<T>, ask: () => void, timeoutMs = 10000): Promise<T> {
  if (child.exitCode === null && child.signalCode === null) ask();
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return await exited;
  } finally {
    clearTimeout(t);
  }
}

/** The environment without PRESENCED_* variables: one from the developer's shell must not change a test's outcome. */
export function hermeticEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PRESENCED_') && v !== undefined) env[k] = v;
  return env;
}

export interface BinRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled bin (dist/src/cli/main.js, as npm links it) to completion; rejects after 15 s. */
export function runBin(args: string[], extraEnv: Record<string, string> = {}): Promise<BinRun> {
  const bin = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...hermeticEnv(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`presenced ${args.join(' ')} did not exit within 15 s`));
    }, 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
