/**
 * Kamailio started as a separate process for the side-by-side benchmarks, the counterpart of server-process.ts:
 * Debian's kamailio 5.6 with bench/kamailio/kamailio.cfg (presence in memory, 4 UDP workers), in the foreground,
 * with its runtime files in a directory of ours. Its figures are summed over all its processes: the main
 * (attendant) process and every process whose parent chain leads to it (UDP workers, timers, RPC).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, type ServerProcess, watchStart } from './server-process.js';

export const KAMAILIO_CFG = join(repoRoot(), 'bench', 'kamailio', 'kamailio.cfg');

/** /usr/sbin is not on every user's PATH; Debian installs both programs there. */
function findProgram(name: string): string | undefined {
  for (const candidate of [name, `/usr/sbin/${name}`, `/usr/local/sbin/${name}`]) {
    const r = spawnSync(candidate, ['-v'], { encoding: 'utf8', timeout: 5000 });
    if (r.error === undefined) return candidate;
  }
  return undefined;
}

export interface KamailioAvailability {
  ok: boolean;
  binary?: string;
  kamcmd?: string;
  version?: string;
  /** Why it cannot run (missing binary, missing module, configuration rejected). */
  reason?: string;
}

/**
 * Whether Kamailio can run our configuration: the binary exists and `kamailio -c` accepts the file, which loads
 * every module it names (presence, presence_xml, tm, ...), so a missing kamailio-presence-modules shows here.
 */
export function kamailioAvailable(scratchDir: string): KamailioAvailability {
  const binary = findProgram('kamailio');
  if (binary === undefined) return { ok: false, reason: 'no kamailio binary (apt-get install -y kamailio kamailio-presence-modules)' };
  const v = spawnSync(binary, ['-v'], { encoding: 'utf8', timeout: 5000 });
  const version = /version:\s*kamailio\s+([\w.\-]+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? 'unknown';
  const check = spawnSync(binary, ['-c', '-f', KAMAILIO_CFG, '-Y', scratchDir, '-w', scratchDir], { encoding: 'utf8', timeout: 20000 });
  if (check.status !== 0) {
    const out = `${check.stdout}${check.stderr}`.split('\n').filter((l) => /ERROR|error/.test(l)).slice(0, 3).join(' / ');
    return { ok: false, binary, version, reason: `kamailio -c rejects ${KAMAILIO_CFG}: ${out || `exit ${check.status}`}` };
  }
  return { ok: true, binary, kamcmd: findProgram('kamcmd'), version };
}

const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** Fields after the parenthesised command name of /proc/<pid>/stat (the name may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process ended between the directory listing and the read
  }
}

/** `root` and every process whose parent chain leads to it, from one walk over /proc. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    // Field 4 (1-based) is the parent pid: index 1 after the command name.
    if (fields !== undefined) parent.set(Number(name), Number(fields[1]));
  }
  const tree: number[] = [];
  for (const pid of parent.keys()) {
    let p: number | undefined = pid;
    for (let depth = 0; p !== undefined && p > 1 && depth < 64; depth++) {
      if (p === root) {
        tree.push(pid);
        break;
      }
      p = parent.get(p);
    }
  }
  return tree;
}

/** utime + stime of one process in microseconds (0 once it is gone). */
function cpuOf(pid: number): number {
  const fields = statFields(pid);
  if (fields === undefined) return 0;
  // utime and stime are fields 14 and 15 (1-based).
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

/** A /proc/<pid>/smaps_rollup or status figure in bytes (0 when absent). */
function kbField(file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Still a Kamailio of ours: a pid can be reused once its process is gone, and we kill only our own. */
function isOurs(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(KAMAILIO_CFG);
  } catch {
    return false;
  }
}

export interface KamailioProcess extends ServerProcess {
  /** The processes summed: main first, then its descendants. */
  processes(): number[];
  /** Sum of the processes' proportional set sizes (Pss): shared memory counted once, split among its users. */
  pssBytes(): number;
  /** Shared memory in use by Kamailio's allocator (kamcmd core.shmmem "used"), bytes; undefined without kamcmd. */
  shmUsedBytes(): number | undefined;
}

export async function startKamailio(opts: { port: number; dir: string; availability: KamailioAvailability }): Promise<KamailioProcess> {
  const { binary, kamcmd } = opts.availability;
  if (binary === undefined) throw new Error(opts.availability.reason ?? 'kamailio is not available');
  mkdirSync(opts.dir, { recursive: true });
  const child: ChildProcess = spawn(
    binary,
    [
      '-f', KAMAILIO_CFG,
      // -DD: stay in the foreground (the spawned pid is the main process); -E: log to stderr, which we keep.
      '-DD', '-E',
      // Runtime files (pid file, RPC socket) and working directory in our temporary directory, not /run.
      '-Y', opts.dir, '-w', opts.dir, '-P', join(opts.dir, 'kamailio.pid'),
      '-A', `BENCH_PORT=${opts.port}`,
      '-A', `BENCH_SERVER_ADDRESS="sip:127.0.0.1:${opts.port}"`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.dir },
  );
  const { exited, pid, ready, output } = await watchStart(child, 'kamailio', opts.port);
  const processes = (): number[] => [pid, ...processTree(pid).filter((p) => p !== pid)];
  if (!ready) {
    for (const p of processes()) if (isOurs(p)) process.kill(p, 'SIGKILL');
    throw new Error(`kamailio did not answer OPTIONS on 127.0.0.1:${opts.port}:\n${output()}`);
  }
  // The workers are all forked before the listener answers; kept for the hard stop should the main process die first.
  let known = processes();
  const socket = `unix:${join(opts.dir, 'kamailio_ctl')}`;
  return {
    child,
    pid,
    port: opts.port,
    processes,
    cpuMicros: () => processes().reduce((sum, p) => sum + cpuOf(p), 0),
    rssBytes: () => processes().reduce((sum, p) => sum + kbField(`/proc/${p}/status`, 'VmRSS'), 0),
    pssBytes: () => processes().reduce((sum, p) => sum + kbField(`/proc/${p}/smaps_rollup`, 'Pss'), 0),
    shmUsedBytes(): number | undefined {
      if (kamcmd === undefined) return undefined;
      const r = spawnSync(kamcmd, ['-s', socket, 'core.shmmem'], { encoding: 'utf8', timeout: 10000 });
      const m = /\bused:\s*(\d+)/.exec(r.stdout ?? '');
      return m ? Number(m[1]) : undefined;
    },
    async stop(): Promise<void> {
      known = [...new Set([...known, ...processes()])];
      // SIGTERM to the main process: it stops its children and removes its pid file and RPC socket.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(10000).then(() => false)]);
      // Then, or if it hung, each process we saw, by its id: none may keep the port for the next step.
      for (let i = 0; i < 20; i++) {
        const alive = known.filter((p) => isOurs(p) && statFields(p)?.[0] !== 'Z');
        if (alive.length === 0) break;
        if (!done || i >= 10) for (const p of alive) process.kill(p, 'SIGKILL');
        await sleep(200);
      }
    },
    output,
  };
}
