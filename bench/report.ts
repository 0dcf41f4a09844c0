/**
 * The figures `npm run bench` collects and the BENCHMARKS.md it writes from them: presenced and Kamailio measured
 * in the same run, side by side, with the Kamailio reference figures of ../shared/bench/README.md beside them.
 */
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { repoRoot } from './server-process.js';

export interface Step {
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  achieved: number;
  cpuPerOpUs: number;
  clean: boolean;
  note?: string;
}

export interface Family {
  name: string;
  unit: string;
  steps: Step[];
  error?: string;
}

export interface FanoutStep extends Step {
  notifies: number;
  /** Lower bound for presenced, exact for a server that sends one NOTIFY per change: one per call and watcher. */
  expectedNotifies: number;
  notifyRate: number;
  notifyRetrans: number;
  /** Seconds the last NOTIFY came after the publisher ended. */
  lagS: number;
  /** Watcher-visible state changes per second (3 changes x 10 watchers per call). */
  changesPerS: number;
  /** Server CPU over the step divided by the changes x watchers it fanned out (the work both servers share). */
  cpuPerChangeUs: number;
}

export interface Fanout {
  watchers: number;
  initialNotifies: number;
  steps: FanoutStep[];
  error?: string;
}

export interface Memory {
  subscriptions: number;
  rate: number;
  failed: number;
  /** The server's live memory (presenced: V8 heap used + external after GC; Kamailio: shared memory in use), bytes. */
  liveBefore: number;
  /** The same right after the run, while finished transactions still wait out their timers. */
  livePeak: number;
  liveAfter: number;
  /** Resident memory (presenced: RSS; Kamailio: Pss summed over its processes), bytes. */
  residentBefore: number;
  residentAfter: number;
  livePerHundredK: number;
  residentPerHundredK: number;
  error?: string;
}

/** Everything measured for one server. */
export interface ServerResults {
  name: string;
  publish: Family;
  subscribe: Family;
  options: Family;
  fanout: Fanout;
  memory: Memory;
}

export interface RunInfo {
  quick: boolean;
  started: Date;
  seconds: number;
  loadAtStart: string;
  sippVersion: string;
  rates: number[];
  durationS: number;
  warmRate: number;
  warmCalls: number;
  fanoutWarmCalls: number;
  memorySubscriptions: number;
  memorySettleS: number;
  /** Kamailio's version when it ran, or why it did not. */
  kamailio: { version: string } | { skipped: string };
  parse: string | undefined;
}

export function best(steps: Step[]): Step | undefined {
  const clean = steps.filter((s) => s.clean);
  return clean[clean.length - 1];
}

export function mb(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : 'n/a';
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function gitCommit(): string {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8' });
  return r.stdout?.trim() || 'unknown';
}

function stepTable(f: Family): string {
  if (f.error !== undefined) return `Run failed: \`${f.error.split('\n')[0]}\`\n`;
  const rows = f.steps.map(
    (s) => `| ${fmt(s.rate)} | ${fmt(s.calls)} | ${fmt(s.successful)} | ${fmt(s.failed)} | ${fmt(s.retransmissions)} | ${fmt(s.achieved)} | ${s.cpuPerOpUs.toFixed(1)} | ${s.clean ? 'yes' : 'no'}${s.note ? ` (${s.note})` : ''} |`,
  );
  return ['| target rate/s | calls | ok | failed | retrans | achieved/s | CPU us/op | clean |', '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n') + '\n';
}

function rateCells(f: Family | undefined): [string, string] {
  if (f === undefined) return ['not run', '-'];
  const b = best(f.steps);
  if (f.error !== undefined || b === undefined) return ['no clean step', '-'];
  const broke = f.steps.find((s) => !s.clean);
  const top = f.steps[f.steps.length - 1] === b && b.rate === Math.max(...f.steps.map((s) => s.rate));
  const tail = broke ? ` (breaks at ${fmt(broke.rate)}/s)` : top ? ' (highest step tried)' : '';
  return [`${fmt(b.rate)}/s${tail}`, `~${b.cpuPerOpUs.toFixed(0)} us`];
}

function fanoutCells(f: Fanout | undefined): [string, string] {
  if (f === undefined) return ['not run', '-'];
  const b = best(f.steps) as FanoutStep | undefined;
  if (b === undefined) return [`no clean step${f.error ? `: ${f.error.split('\n')[0]}` : ''}`, '-'];
  const broke = f.steps.find((s) => !s.clean);
  return [
    `${fmt(b.rate)} publisher calls/s = ${fmt(b.changesPerS)} changes x watchers/s, sent as ${fmt(b.notifyRate)} NOTIFY/s${broke ? `; breaks at ${fmt(broke.rate)} calls/s` : '; highest step tried'}`,
    `~${b.cpuPerOpUs.toFixed(0)} us per NOTIFY, ~${b.cpuPerChangeUs.toFixed(0)} us per change x watcher`,
  ];
}

function memoryCell(m: Memory | undefined, live: string, resident: string): string {
  if (m === undefined) return 'not run';
  if (m.error !== undefined) return `failed: ${m.error.split('\n')[0]}`;
  return `${mb(m.livePerHundredK)} MiB ${live}; ${resident} grows ${mb(m.residentPerHundredK)} MiB`;
}

function fanoutSection(name: string, f: Fanout): string[] {
  const lines = [`${name}: initial NOTIFYs answered ${fmt(f.initialNotifies)} of 10,000.${f.error ? ` Run failed: \`${f.error.split('\n')[0]}\`` : ''}`, ''];
  lines.push('| publisher calls/s | calls | failed | retrans | changes x watchers /s | NOTIFYs (1 per call x watcher) | NOTIFY/s | lag after publisher | NOTIFY retransmitted | CPU us/NOTIFY | CPU us/change x watcher | clean |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of f.steps) {
    lines.push(`| ${fmt(s.rate)} | ${fmt(s.calls)} | ${fmt(s.failed)} | ${fmt(s.retransmissions)} | ${fmt(s.changesPerS)} | ${fmt(s.notifies)} (${fmt(s.expectedNotifies)}) | ${fmt(s.notifyRate)} | ${s.lagS.toFixed(1)} s | ${fmt(s.notifyRetrans)} | ${s.cpuPerOpUs.toFixed(1)} | ${s.cpuPerChangeUs.toFixed(1)} | ${s.clean ? 'yes' : 'no'} |`);
  }
  lines.push('');
  return lines;
}

function memorySection(name: string, m: Memory, live: string, resident: string): string {
  if (m.error !== undefined) return `${name}: run failed: \`${m.error}\``;
  return `${name}: ${fmt(m.subscriptions)} subscriptions (failed calls: ${fmt(m.failed)}). ${live} ${mb(m.liveBefore)} MiB before, ${mb(m.livePeak)} MiB right after the run (with the finished transactions still waiting out their timers), ${mb(m.liveAfter)} MiB once those are gone: ${mb(m.livePerHundredK)} MiB per 100,000 subscriptions. ${resident} ${mb(m.residentBefore)} MiB -> ${mb(m.residentAfter)} MiB (${mb(m.residentPerHundredK)} MiB per 100,000).`;
}

const PRESENCED_LIVE = 'live (JS heap + external after GC)';
const KAMAILIO_LIVE = 'shared memory in use (kamcmd core.shmmem)';

export function report(p: ServerResults, k: ServerResults | undefined, info: RunInfo): string {
  const cpu = cpus();
  const kam = 'version' in info.kamailio ? `Kamailio ${info.kamailio.version}` : 'Kamailio';
  const kamNote = 'skipped' in info.kamailio ? `Kamailio was not run: ${info.kamailio.skipped}.` : undefined;
  const L: string[] = [];
  L.push('# Benchmarks', '');
  L.push(`Generated by \`npm run bench${info.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${info.started.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitCommit()}, in ${Math.round(info.seconds)} s.`, '');
  L.push('## Machine', '');
  L.push(`- CPU: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores; memory ${mb(totalmem())} MiB; Linux ${release()}`);
  L.push(`- Node ${process.version}; sipp ${info.sippVersion}; ${kamNote === undefined ? `${kam} (Debian packages kamailio, kamailio-presence-modules); ` : ''}servers and sipp on the same machine over 127.0.0.1`);
  L.push(`- Load average when the run started: ${info.loadAtStart} (other work on the machine competes with sipp and the servers; figures are lower bounds)`, '');
  L.push('## Summary, side by side with Kamailio', '');
  if (k !== undefined) L.push('Both servers measured in this run, on this machine, one after the other for each kind of work, with the same sipp steps and the same cleanliness rule.');
  L.push('presenced runs **durable**: SQLite (WAL) file, every 2xx sent only after its change is committed (group commit).');
  L.push(`${kam} runs **in memory (nothing durable)** with bench/kamailio/kamailio.cfg: presence + presence_xml, 4 UDP workers.`);
  L.push('The last column is the reference of ../shared/bench/README.md (Kamailio 5.6 in memory, 4 processes, a 2-core machine like this one; with its SQLite backend it fails from 1,000 PUBLISH/s).');
  if (kamNote !== undefined) L.push('', kamNote);
  L.push('');
  L.push(`| work | presenced clean rate (0 failed, 0 retrans) | presenced CPU/op | ${kam} clean rate (this run) | ${kam} CPU/op | Kamailio reference (README) |`);
  L.push('| --- | --- | --- | --- | --- | --- |');
  const row = (work: string, pc: [string, string], kc: [string, string], ref: string): string => `| ${work} | ${pc[0]} | ${pc[1]} | ${kc[0]} | ${kc[1]} | ${ref} |`;
  L.push(row('PUBLISH (publish.xml)', rateCells(p.publish), rateCells(k?.publish), '10,000/s (breaks at 12,000/s), ~90 us'));
  L.push(row('SUBSCRIBE + initial NOTIFY (subscribe.xml)', rateCells(p.subscribe), rateCells(k?.subscribe), '6,000/s, ~155 us'));
  L.push(row('fan-out, 10,000 watchers (watcher.xml + publisher.xml)', fanoutCells(p.fanout), fanoutCells(k?.fanout), '500 calls/s = 15,000 NOTIFY/s, one per change x watcher (breaks at 600), ~60 us per NOTIFY'));
  L.push(row('OPTIONS (bench/scenarios/options.xml)', rateCells(p.options), rateCells(k?.options), '-'));
  L.push(`| memory per 100,000 subscriptions | ${memoryCell(p.memory, PRESENCED_LIVE, 'RSS')} | | ${memoryCell(k?.memory, KAMAILIO_LIVE, 'Pss of all its processes')} | | - |`);
  L.push('');
  L.push('## Method', '');
  L.push('- Each server is started as its own process, a fresh one per kind of work; readiness is an OPTIONS answered 200. presenced: `presenced --listen udp:127.0.0.1:P --listen tcp:127.0.0.1:P --db sqlite:<tmp>/x.db --http off --log-level warn`, a fresh database each time. Kamailio: `kamailio -f bench/kamailio/kamailio.cfg -DD -E -Y <tmp> -w <tmp> -P <tmp>/kamailio.pid -A BENCH_PORT=P -A BENCH_SERVER_ADDRESS=...` (bench/kamailio-process.ts), in the foreground, stopped with SIGTERM after the kind of work.');
  L.push('- Kamailio: Debian\'s packages (`apt-get install -y kamailio kamailio-presence-modules`), with our bench/kamailio/kamailio.cfg: presence with `publ_cache=2` (presentity records in memory) and `subs_db_mode=0` (subscriptions in memory only), so no database module is loaded at all; presence_xml with `force_active=1` (no authorization rules: every subscription active, as in presenced); `children=4` UDP workers, `maxbuffer=4194304`, TCP/TLS/SCTP off, DNS off, log level warnings; PUBLISH and SUBSCRIBE go through a tm transaction (`t_newtran`, which absorbs retransmissions) to `handle_publish`/`handle_subscribe`; OPTIONS gets 200, other methods 405. Presence hash tables of 2^14 slots (default 2^9). `npm run bench` runs Kamailio when the binary is installed and accepts the configuration (`kamailio -c`); `--kamailio` requires it, `--no-kamailio` skips it.');
  L.push(`- Each server is warmed up before its first measured step: ${fmt(info.warmCalls)} calls of the same scenario at ${fmt(info.warmRate)}/s (fan-out: ${fmt(info.fanoutWarmCalls)} publisher calls at 200/s), not measured. A fresh Node process runs its first seconds interpreted while it compiles the hot paths (JIT), which a server in service has long done; cold, the first step was charged about twice the CPU per operation of the same step warm. Kamailio (C) has no such phase but gets the same warm-up, so that both servers hold the same state when measured (the SUBSCRIBE warm-up leaves its subscriptions in place, like the steps).`);
  L.push(`- sipp runs each step with \`-r RATE -rp 1000 -m RATE*${info.durationS} -buff_size 4194304 -trace_stat -fd 1 -recv_timeout 10000 -timeout ...\`; the step is clean when every call succeeded with no retransmission (FailedCall(C) = 0, Retransmissions(C) = 0 in the stat CSV); an unclean step is retried once (the machine is shared) and the retry's figures are kept. Rates rise ${info.rates.map(fmt).join(' -> ')}/s and stop at the first unclean step; the summary gives the highest clean step.`);
  L.push('- CPU per operation = server utime+stime (from /proc/<pid>/stat) over the step, divided by the successful calls (PUBLISH, SUBSCRIBE+NOTIFY, OPTIONS) or by the NOTIFYs answered (fan-out). presenced is one process (its SQLite commits run in it); for Kamailio the times of all its processes are summed: the main process and every process whose parent chain leads to it (4 UDP workers, timers, RPC), found by walking /proc at each reading.');
  L.push('- SUBSCRIBE: the presentities u1..uN are published first (publish.xml at 4,000/s), as subscribe.xml expects; each initial NOTIFY then carries a PIDF body. Subscriptions accumulate (Expires 3600) across steps.');
  L.push('- Fan-out: watcher.xml subscribes 10,000 watchers (10 per presentity u0..u999) at 2,000/s (with `-l 10000`: sipp\'s default limit of simultaneous calls, 3 x rate = 6,000, would hold 4,000 watchers back until others ended) and answers every NOTIFY; publisher.xml then runs at rising call rates, each call making 3 changes (open, modify, remove) of a presentity with 10 watchers. Kamailio sends one NOTIFY per change and watcher (30 per call). presenced does not send a NOTIFY while the previous one of the same dialog is unanswered; changes arriving meanwhile are coalesced into one NOTIFY with the latest state (issue 3), so the 3 changes of a call give 1 to 3 NOTIFYs per watcher: 3 while each watcher answers before the next change, fewer as load delays the answers. The comparable load figure is therefore the changes x watchers per second the server fanned out, and the comparable CPU figure the CPU per change x watcher; NOTIFY/s is what each actually sent.');
  L.push('- NOTIFYs are counted from the watcher\'s -trace_counts file (rewritten once a second). A step is clean when the publisher had no failed call and no retransmission, the watcher no failed call, the server retransmitted no NOTIFY (a watcher that falls behind shows as retransmissions), and the last NOTIFY came at most 2 s after the publisher ended (the server kept up).');
  L.push(`- Memory: a fresh server, ${fmt(info.memorySubscriptions)} subscribe.xml calls at ${fmt(p.memory.rate)}/s, scaled to 100,000; taken before and ${info.memorySettleS} s after the run (${info.memorySettleS > 32 ? 'past presenced\'s Timer J = 32 s and Kamailio\'s 5 s tm wait timer, so finished transactions are gone' : 'past Kamailio\'s 5 s tm wait timer but not presenced\'s Timer J = 32 s: presenced\'s figure still holds its finished transactions'}). presenced (bench/memory-server.ts: the same startServer in a child run with --expose-gc): "live" is V8 heapUsed + external after two full GCs; RSS (VmRSS) is shown too but overstates live memory, as V8 keeps the pages of a heap that grew. Kamailio keeps subscriptions, presentities and transactions in its shared memory pool: "live" is that pool's \`used\` bytes (\`kamcmd core.shmmem\` over the RPC socket of the ctl module); the resident figure is the Pss (proportional set size, /proc/<pid>/smaps_rollup) summed over its processes, which counts the shared pool once rather than once per process as summed RSS would. Neither resident figure shrinks after the burst: both allocators keep the pages the transactions in flight touched, so resident growth is dominated by that peak, not by the subscriptions.`);
  L.push('');
  L.push('## Steps', '');
  for (const pick of [(r: ServerResults) => r.publish, (r: ServerResults) => r.subscribe, (r: ServerResults) => r.options]) {
    L.push(`### ${pick(p).name}`, '');
    for (const r of k ? [p, k] : [p]) L.push(`${r.name}:`, '', stepTable(pick(r)));
  }
  L.push('### Fan-out (10,000 watchers)', '');
  for (const r of k ? [p, k] : [p]) L.push(...fanoutSection(r.name, r.fanout));
  L.push('### Memory', '');
  L.push(memorySection('presenced', p.memory, 'Live memory', 'RSS'), '');
  if (k) L.push(memorySection(k.name, k.memory, 'Shared memory in use', 'Pss summed over its processes'), '');
  L.push('## Parser (bench/parse-bench.ts)', '');
  L.push(info.parse === undefined ? 'bench/parse-bench.ts is not present in this build.' : ['```', info.parse, '```'].join('\n'), '');
  L.push('## Caveats', '');
  L.push('- sipp and the server share the 2 cores; the README puts this machine\'s ceiling for sipp + any server at roughly 10,000-15,000 transactions/s, so the top steps measure the pair, not the server alone. CPU per operation is the steadier figure.');
  L.push('- The machine is shared and virtualised: rates vary by 10-20 % from run to run. Steps are short (a few seconds), so a transient stall can fail a step that passes on another run; the two servers run minutes apart, so compare them on CPU per operation first.');
  L.push('- /proc/<pid>/stat counts CPU time in clock ticks (10 ms) per process, so a reading summed over the 9 processes Kamailio runs with this configuration may be up to 90 ms short (presenced: 10 ms): over a step of 10,000 operations, up to 9 us per operation. Longer steps (the full run) make this smaller.');
  L.push('- Kamailio runs in memory only; presenced is durable (fsync per group commit in WAL mode as configured by the SQLite adapter), which is the harder case.');
  L.push('- Right after a burst, memory is dominated by finished transactions kept for Timer J (32 s on UDP, RFC 3261 §17.2.2); the per-subscription figure is taken after they expire.');
  if (info.quick) L.push(`- This was a \`--quick\` run: fewer, shorter steps and ${fmt(info.memorySubscriptions)} subscriptions scaled to 100,000. Run \`npm run bench\` for the real figures.`);
  L.push('');
  return L.join('\n');
}
