/**
 * Drives Debian's sipp (package sip-tester) and reads its statistics files. Every run is bounded:
 * a call count (-m), a global timeout (-timeout) and a hard kill from here if sipp still hangs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface SippRun {
  scenario: string;
  target: string;
  rate: number;
  calls: number;
  localPort: number;
  /** Directory for the stat/count files (sipp's working directory). */
  dir: string;
  /** Injection file (-inf). */
  inf?: string;
  /** Seconds before sipp quits by itself. */
  timeoutS: number;
  /** Also write the per-message counts file (-trace_counts). */
  counts?: boolean;
  extra?: string[];
}

export interface SippStats {
  /** Wall time of the sipp run measured here (spawn to exit); the stat file only has whole seconds. */
  wallS: number;
  elapsedS: number;
  callRate: number;
  successful: number;
  failed: number;
  retransmissions: number;
  outgoing: number;
  /** Columns of the last line, by name. */
  raw: Map<string, string>;
}

export function sippAvailable(): boolean {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8', timeout: 5000 });
  return r.error === undefined && /SIPp v/i.test(`${r.stdout}${r.stderr}`);
}

export function sippVersion(): string {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8', timeout: 5000 });
  const m = /SIPp (v[\w.\-]+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : 'unknown';
}

export function statFile(run: SippRun): string {
  return join(run.dir, `stat-${run.localPort}.csv`);
}

export function sippArgs(run: SippRun): string[] {
  const args = [
    '-sf', run.scenario,
    '-r', String(run.rate), '-rp', '1000',
    '-m', String(run.calls),
    '-i', '127.0.0.1', '-p', String(run.localPort),
    '-buff_size', '4194304',
    '-trace_stat', '-stf', statFile(run), '-fd', '1',
    '-timeout', String(run.timeoutS), '-timeout_error',
    '-recv_timeout', '10000',
    '-nostdin',
  ];
  if (run.inf !== undefined) args.push('-inf', run.inf);
  if (run.counts) args.push('-trace_counts');
  args.push(...(run.extra ?? []), run.target);
  return args;
}

export interface RunningSipp {
  child: ChildProcess;
  done: Promise<number | null>;
}

/** Starts sipp; `done` resolves with its exit code (killed after timeoutS + 15 s if it does not quit). */
export function startSipp(run: SippRun): RunningSipp {
  const child = spawn('sipp', sippArgs(run), { cwd: run.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const done = new Promise<number | null>((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), (run.timeoutS + 15) * 1000);
    child.on('exit', (code) => {
      clearTimeout(hard);
      if (code !== 0 && code !== 1 && stderr.trim() !== '') process.stderr.write(`sipp: ${stderr.trim().slice(0, 500)}\n`);
      resolve(code);
    });
    child.on('error', () => {
      clearTimeout(hard);
      resolve(null);
    });
  });
  return { child, done };
}

export async function runSipp(run: SippRun): Promise<SippStats | undefined> {
  const t0 = performance.now();
  await startSipp(run).done;
  const wallS = (performance.now() - t0) / 1000;
  const stats = readStats(statFile(run));
  return stats === undefined ? undefined : { ...stats, wallS };
}

function elapsedSeconds(text: string | undefined): number {
  // sipp writes HH:MM:SS:micro.
  // The stat file writes HH:MM:SS, the counts file HH:MM:SS:micro.
  if (text === undefined) return 0;
  const p = text.split(':').map(Number);
  if (p.length < 3 || p.some((n) => Number.isNaN(n))) return 0;
  return p[0] * 3600 + p[1] * 60 + p[2] + (p[3] ?? 0) / 1e6;
}

/** Reads the last line of a -trace_stat CSV (semicolon separated, header on the first line). */
export function readStats(file: string): SippStats | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const raw = new Map<string, string>();
  head.forEach((h, i) => raw.set(h, last[i] ?? ''));
  const num = (k: string): number => Number(raw.get(k) ?? 'NaN');
  return {
    wallS: 0,
    elapsedS: elapsedSeconds(raw.get('ElapsedTime(C)')),
    callRate: num('CallRate(C)'),
    successful: num('SuccessfulCall(C)'),
    failed: num('FailedCall(C)'),
    retransmissions: num('Retransmissions(C)'),
    outgoing: num('OutgoingCall(C)'),
    raw,
  };
}

/** The -trace_counts file sipp writes for a scenario in `dir` (named <scenario>_<pid>_counts.csv). */
export function countsFile(dir: string, pid: number): string | undefined {
  const name = readdirSync(dir).find((f) => f.endsWith(`_${pid}_counts.csv`));
  return name === undefined ? undefined : join(dir, name);
}

/** Sums, over the last line of a counts file, the columns whose name matches `pattern` (e.g. /_NOTIFY_Recv$/). */
export function readCount(file: string | undefined, pattern: RegExp): number {
  if (file === undefined || !existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return 0;
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  let sum = 0;
  head.forEach((h, i) => {
    if (pattern.test(h)) sum += Number(last[i] ?? 0) || 0;
  });
  return sum;
}
