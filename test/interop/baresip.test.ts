/**
 * A real presence client: baresip (Debian package baresip-core) with its presence module, run headless.
 * Its account publishes (pubint) and it watches a contact (presence=p2p) through presenced as outbound proxy;
 * the `/presence_online` command makes it PUBLISH an open PIDF. We read its SIP trace (-s) and check the
 * whole flow: SUBSCRIBE 200, NOTIFY active, PUBLISH 200, and a NOTIFY carrying the open state.
 * Skipped, with the reason, when baresip or its presence module is not installed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, startTestServer, type TestServer } from '../support/test-server.js';
import { ciRequires } from '../support/ci-requires.js';

const MODULES = '/usr/lib/baresip/modules';

function baresipReady(): string | false {
  const r = spawnSync('baresip', ['-h'], { encoding: 'utf8', timeout: 5000 });
  if (r.error !== undefined) return 'baresip is not installed (apt-get install baresip-core)';
  if (!existsSync(join(MODULES, 'presence.so'))) return `baresip presence module missing (${MODULES}/presence.so)`;
  return false;
}

const skip = ciRequires(baresipReady());

interface TraceMessage {
  direction: 'out' | 'in';
  firstLine: string;
  text: string;
}

/** Splits baresip's -s trace ("UDP a -> b" followed by the message) into messages. */
function parseTrace(out: string, local: string): TraceMessage[] {
  // eslint-disable-next-line no-control-regex
  const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
  const blocks = clean.split(/\n(?=(?:UDP|TCP) \S+ -> \S+\n)/);
  const msgs: TraceMessage[] = [];
  for (const b of blocks) {
    const m = /^(?:UDP|TCP) (\S+) -> (\S+)\n([\s\S]*)$/.exec(b.trimStart());
    if (!m) continue;
    const text = m[3];
    msgs.push({ direction: m[1] === local ? 'out' : 'in', firstLine: text.split(/\r?\n/)[0] ?? '', text });
  }
  return msgs;
}

let server: TestServer;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'presenced-baresip-'));
  server = await startTestServer({ domain: 'example.com' });
});

after(async () => {
  if (skip) return;
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('baresip (presence module) against presenced', { skip }, () => {
  test('baresip watches itself: SUBSCRIBE 200, NOTIFY, /presence_online PUBLISH 200, NOTIFY with basic open', { timeout: 30000 }, async () => {
    const port = server.port('udp');
    // baresip listens on UDP and TCP at sipPort and TLS at sipPort + 1.
    const sipPort = await freePorts(2);
    const conf = join(dir, 'conf');
    mkdirSync(conf, { recursive: true });
    writeFileSync(
      join(conf, 'config'),
      [
        'poll_method\tepoll',
        `sip_listen\t127.0.0.1:${sipPort}`,
        `module_path\t${MODULES}`,
        'module\tstdio.so',
        'module_tmp\taccount.so',
        'module_app\tcontact.so',
        'module_app\tmenu.so',
        'module_app\tpresence.so',
        '',
      ].join('\n'),
    );
    writeFileSync(join(conf, 'accounts'), `<sip:alice@example.com>;regint=0;pubint=60;outbound="sip:127.0.0.1:${port}"\n`);
    writeFileSync(join(conf, 'contacts'), '"Alice" <sip:alice@example.com>;presence=p2p\n');

    const child = spawn('baresip', ['-f', conf, '-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    const hard = setTimeout(() => child.kill('SIGKILL'), 25000);
    const waitFor = async (re: RegExp, ms: number): Promise<boolean> => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (re.test(out)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    try {
      assert.ok(await waitFor(/NOTIFY sip:/, 8000), `no NOTIFY after baresip's SUBSCRIBE:\n${out.slice(-3000)}`);
      child.stdin.write('/presence_online\n');
      assert.ok(await waitFor(/<basic>open<\/basic>[\s\S]*NOTIFY sip:[\s\S]*<basic>open<\/basic>/, 8000), `no NOTIFY with the open state:\n${out.slice(-3000)}`);
      child.stdin.write('/quit\n');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    } finally {
      clearTimeout(hard);
      child.kill('SIGTERM');
      await exited;
    }

    const msgs = parseTrace(out, `127.0.0.1:${sipPort}`);
    const responseTo = (method: string): string[] =>
      msgs.filter((m) => m.direction === 'in' && m.firstLine.startsWith('SIP/2.0') && new RegExp(`^CSeq: \\d+ ${method}`, 'mi').test(m.text)).map((m) => m.firstLine);
    assert.ok(responseTo('SUBSCRIBE').some((l) => /^SIP\/2\.0 200/.test(l)), `SUBSCRIBE answers: ${responseTo('SUBSCRIBE').join(' | ')}`);
    const publishes = responseTo('PUBLISH');
    assert.ok(publishes.some((l) => /^SIP\/2\.0 200/.test(l)), `PUBLISH answers: ${publishes.join(' | ')}`);
    const notifies = msgs.filter((m) => m.direction === 'in' && m.firstLine.startsWith('NOTIFY '));
    assert.ok(notifies.length >= 2, 'initial NOTIFY and one for the change');
    assert.match(notifies[0].text, /^Subscription-State: active;expires=\d+/im);
    assert.ok(notifies.some((n) => /<basic>open<\/basic>/.test(n.text) && /entity="sip:alice@example\.com"/.test(n.text)));
    // baresip answers every NOTIFY 200.
    const notifyAnswers = msgs.filter((m) => m.direction === 'out' && /^CSeq: \d+ NOTIFY/im.test(m.text)).map((m) => m.firstLine);
    assert.ok(notifyAnswers.length >= 2 && notifyAnswers.every((l) => /^SIP\/2\.0 200/.test(l)), notifyAnswers.join(' | '));
  });
});
