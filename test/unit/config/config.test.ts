import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  configKeys,
  configReference,
  formatListen,
  loadConfig,
  parseConfig,
  parseListen,
  presencedVersion,
  type LoadedConfig,
} from '../../../src/config/index.js';

/** The checkout root, found from this file whether it runs from test/ (tsx) or dist/test/ (tsc). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'docs'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

const cwd = mkdtempSync(join(tmpdir(), 'presenced-config-'));

function load(argv: string[] = [], env: Record<string, string> = {}): LoadedConfig {
  return loadConfig({ argv, env, cwd });
}

function writeYaml(name: string, text: string): string {
  const file = join(cwd, name);
  writeFileSync(file, text);
  return file;
}

/** Asserts that loading throws a ConfigError and returns its message. */
function loadError(argv: string[] = [], env: Record<string, string> = {}): string {
  try {
    load(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'PRS_ERR_CONFIG');
    return err.message;
  }
  assert.fail('expected loadConfig to throw');
}

describe('defaults', () => {
  test('an empty command line yields the documented defaults', () => {
    const { config, configFile, warnings } = load();
    assert.equal(configFile, undefined);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.listen, [
      { transport: 'udp', host: '0.0.0.0', port: 5060 },
      { transport: 'tcp', host: '0.0.0.0', port: 5060 },
    ]);
    assert.equal(config.db, 'sqlite:./data/presenced.db');
    assert.deepEqual(config.http, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.domain, undefined);
    assert.deepEqual(config.domains, []);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.cleanPeriod, 10);
    assert.equal(config.expiresOffset, 0);
    assert.equal(config.maxExpiresSubscribe, 3600);
    assert.equal(config.maxExpiresPublish, 3600);
    assert.equal(config.minExpires, 60);
    assert.equal(config.serverAddress, undefined);
    assert.equal(config.notifyOfflineBody, false);
    assert.equal(config.endSubOnTimeout, true);
    assert.equal(config.subscribeReplyCode, 200);
    assert.equal(config.forceActive, true);
    assert.equal(config.notifyRecoveryRate, 200);
    assert.equal(config.notifyMinInterval, 0);
    assert.equal(config.maxMessageSize, 65536);
    assert.equal(config.tcpIdleTimeout, 600);
    assert.equal(config.maxConnectionsPerSource, 64);
    assert.equal(config.maxConnections, 10000);
    assert.equal(config.udpReceiveBuffer, 4194304);
    assert.equal(config.userAgent, `presenced/${presencedVersion()}`);
    assert.deepEqual(config.api, { tokens: [], webhooks: [] });
  });

  test('parseConfig({}) gives the same defaults, and defaults are not shared between results', () => {
    const a = parseConfig({});
    const b = parseConfig();
    assert.deepEqual(a, load().config);
    a.listen.push({ transport: 'udp', host: '127.0.0.1', port: 1 });
    assert.equal(b.listen.length, 2);
  });

  test('the version comes from package.json', () => {
    assert.match(presencedVersion(), /^\d+\.\d+\.\d+/);
  });
});

describe('precedence: defaults < file < env < --set < flags', () => {
  const file = writeYaml(
    'precedence.yaml',
    ['db: sqlite:file.db', 'domain: file.example', 'maxExpiresPublish: 100', 'minExpires: 10', 'cleanPeriod: 7', ''].join('\n'),
  );

  test('the file overrides defaults', () => {
    const { config, configFile } = load(['--config', file]);
    assert.equal(configFile, file);
    assert.equal(config.db, 'sqlite:file.db');
    assert.equal(config.domain, 'file.example');
    assert.equal(config.maxExpiresPublish, 100);
    assert.equal(config.maxExpiresSubscribe, 3600);
  });

  test('PRESENCED_CONFIG names the file when --config is absent, and --config wins over it', () => {
    assert.equal(load([], { PRESENCED_CONFIG: file }).config.cleanPeriod, 7);
    const other = writeYaml('other.yaml', 'cleanPeriod: 9\n');
    assert.equal(load(['--config', other], { PRESENCED_CONFIG: file }).config.cleanPeriod, 9);
  });

  test('a relative --config is read from cwd', () => {
    assert.equal(load(['--config', 'precedence.yaml']).config.cleanPeriod, 7);
  });

  test('the environment overrides the file, flags override the environment', () => {
    const env = { PRESENCED_DB: 'sqlite:env.db', PRESENCED_MAX_EXPIRES_PUBLISH: '200', PRESENCED_DOMAIN: 'env.example' };
    const fromEnv = load(['--config', file], env).config;
    assert.equal(fromEnv.db, 'sqlite:env.db');
    assert.equal(fromEnv.maxExpiresPublish, 200);
    assert.equal(fromEnv.domain, 'env.example');
    assert.equal(fromEnv.minExpires, 10, 'keys the environment does not set keep the file value');

    const fromFlags = load(['--config', file, '--db', 'sqlite:flag.db', '--set', 'maxExpiresPublish=300'], env).config;
    assert.equal(fromFlags.db, 'sqlite:flag.db');
    assert.equal(fromFlags.maxExpiresPublish, 300);
    assert.equal(fromFlags.domain, 'env.example');
  });

  test('a dedicated flag wins over --set for the same key', () => {
    assert.equal(load(['--set', 'logLevel=warn', '--log-level', 'debug']).config.logLevel, 'debug');
  });

  test('an empty environment variable counts as unset', () => {
    assert.equal(load(['--config', file], { PRESENCED_DOMAIN: '' }).config.domain, 'file.example');
  });

  test('environment variable names are the keys in SCREAMING_SNAKE_CASE', () => {
    const names = new Map(configKeys().map((k) => [k.path, k.env]));
    assert.equal(names.get('listen'), 'PRESENCED_LISTEN');
    assert.equal(names.get('logLevel'), 'PRESENCED_LOG_LEVEL');
    assert.equal(names.get('maxExpiresPublish'), 'PRESENCED_MAX_EXPIRES_PUBLISH');
    assert.equal(names.get('maxConnectionsPerSource'), 'PRESENCED_MAX_CONNECTIONS_PER_SOURCE');
    assert.equal(names.get('api.tokens'), 'PRESENCED_API_TOKENS');
  });

  test('booleans, numbers and lists are read from environment strings', () => {
    const { config } = load([], {
      PRESENCED_NOTIFY_OFFLINE_BODY: 'yes',
      PRESENCED_FORCE_ACTIVE: 'false',
      PRESENCED_SUBSCRIBE_REPLY_CODE: '202',
      PRESENCED_DOMAINS: 'a.example, B.example',
      PRESENCED_LOG_LEVEL: 'trace',
      PRESENCED_NOTIFY_MIN_INTERVAL: '5000',
    });
    assert.equal(config.notifyMinInterval, 5000);
    assert.equal(config.notifyOfflineBody, true);
    assert.equal(config.forceActive, false);
    assert.equal(config.subscribeReplyCode, 202);
    assert.deepEqual(config.domains, ['a.example', 'b.example']);
    assert.equal(config.logLevel, 'trace');
  });

  test('an unknown PRESENCED_* variable is a warning with a suggestion, not an error', () => {
    const { warnings } = load([], { PRESENCED_MAX_EXPIRE_PUBLISH: '5', HOME: '/root' });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /PRESENCED_MAX_EXPIRE_PUBLISH.*did you mean "PRESENCED_MAX_EXPIRES_PUBLISH"/);
  });
});

describe('listen', () => {
  test('the command line other tools use is accepted as is', () => {
    const { config } = load([
      '--listen',
      'udp:127.0.0.1:5160',
      '--listen',
      'tcp:127.0.0.1:5160',
      '--db',
      'sqlite:/tmp/x.db',
      '--http',
      '127.0.0.1:8160',
      '--domain',
      'example.com',
    ]);
    assert.deepEqual(config.listen, [
      { transport: 'udp', host: '127.0.0.1', port: 5160 },
      { transport: 'tcp', host: '127.0.0.1', port: 5160 },
    ]);
    assert.equal(config.db, 'sqlite:/tmp/x.db');
    assert.deepEqual(config.http, { host: '127.0.0.1', port: 8160 });
    assert.equal(config.domain, 'example.com');
  });

  test('repeated --listen replaces the default list, even a single one', () => {
    assert.deepEqual(load(['--listen', 'tcp:10.0.0.1:5070']).config.listen, [
      { transport: 'tcp', host: '10.0.0.1', port: 5070 },
    ]);
  });

  test('--listen replaces a list from the file and from the environment', () => {
    const file = writeYaml('listen.yaml', 'listen:\n  - udp:1.1.1.1:5060\n  - {transport: tcp, host: "::1", port: 5062}\n');
    assert.deepEqual(load(['--config', file]).config.listen, [
      { transport: 'udp', host: '1.1.1.1', port: 5060 },
      { transport: 'tcp', host: '::1', port: 5062 },
    ]);
    const env = { PRESENCED_LISTEN: 'udp:2.2.2.2:5060,tcp:2.2.2.2:5060' };
    assert.equal(load(['--config', file], env).config.listen[0]!.host, '2.2.2.2');
    assert.deepEqual(load(['--config', file, '--listen', 'udp:3.3.3.3:0'], env).config.listen, [
      { transport: 'udp', host: '3.3.3.3', port: 0 },
    ]);
  });

  test('IPv6 listeners are bracketed in text and bare in the result', () => {
    const { config } = load(['--listen', 'udp:[::1]:5060', '--listen', 'tcp:[fe80::1]', '--http', '[::1]:8081']);
    assert.deepEqual(config.listen, [
      { transport: 'udp', host: '::1', port: 5060 },
      { transport: 'tcp', host: 'fe80::1', port: 5060 },
    ]);
    assert.deepEqual(config.http, { host: '::1', port: 8081 });
    assert.equal(formatListen(config.listen[0]!), 'udp:[::1]:5060');
  });

  test('parseListen rejects what it cannot bind', () => {
    assert.ok('error' in parseListen('sctp:1.2.3.4:5060'));
    assert.ok('error' in parseListen('udp:::1:5060'));
    assert.ok('error' in parseListen('udp:1.2.3.4:70000'));
    assert.ok('error' in parseListen('udp:[nothex]:5060'));
    assert.ok('error' in parseListen('udp'));
  });

  test('a bad listener names its index and origin', () => {
    const message = loadError(['--listen', 'udp:1.2.3.4:5060', '--listen', 'udp:::1:5060']);
    assert.match(message, /^config: listen\[1\]: .*brackets.*, got "udp:::1:5060" \(from --listen\)$/);
  });

  test('duplicate listeners are rejected', () => {
    assert.match(loadError(['--listen', 'udp:1.2.3.4:5060', '--listen', 'udp:1.2.3.4']), /duplicate listener udp:1\.2\.3\.4:5060/);
  });
});

describe('http', () => {
  test('--http off disables the HTTP API', () => {
    assert.equal(load(['--http', 'off']).config.http, null);
    assert.equal(load(['--http=off']).config.http, null);
    assert.equal(load([], { PRESENCED_HTTP: 'off' }).config.http, null);
    assert.equal(load(['--config', writeYaml('http.yaml', 'http: null\n')]).config.http, null);
  });

  test('a missing port is an error', () => {
    assert.match(loadError(['--http', 'localhost']), /^config: http: expected HOST:PORT or "off": missing ":PORT", got "localhost" \(from --http\)$/);
  });
});

describe('errors name the key, the problem and the origin', () => {
  test('a bad value from the environment', () => {
    assert.equal(
      loadError([], { PRESENCED_MAX_EXPIRES_PUBLISH: 'abc' }),
      'config: maxExpiresPublish: expected a number >= 1, got "abc" (from PRESENCED_MAX_EXPIRES_PUBLISH)',
    );
  });

  test('a bad value from the file points at its line and column', () => {
    const file = writeYaml('bad-value.yaml', 'cleanPeriod: 5\nmaxExpiresPublish: abc\n');
    assert.equal(
      loadError(['--config', file]),
      `config: maxExpiresPublish: expected a number >= 1, got "abc" (at ${file}:2:20)`,
    );
  });

  test('out-of-range and wrong-type values', () => {
    assert.match(loadError(['--set', 'maxExpiresPublish=0']), /^config: maxExpiresPublish: expected a number >= 1, got 0 \(from --set maxExpiresPublish\)$/);
    assert.match(loadError(['--set', 'cleanPeriod=1.5']), /cleanPeriod: expected a number >= 1 \(a whole number\), got 1\.5/);
    assert.match(loadError(['--set', 'forceActive=maybe']), /forceActive: expected true or false, got "maybe"/);
    assert.match(loadError(['--set', 'subscribeReplyCode=201']), /subscribeReplyCode: expected 200 or 202, got 201/);
    assert.match(loadError(['--log-level', 'loud']), /logLevel: expected one of fatal, error, warn, info, debug, trace, got "loud" \(from --log-level\)/);
    assert.match(loadError(['--db', 'mysql://x']), /db: expected sqlite:PATH or postgres:\/\/USER@HOST\/DB, got "mysql:\/\/x"/);
    assert.match(loadError(['--set', 'serverAddress=presence.example.com']), /serverAddress: expected a SIP URI/);
    assert.match(loadError(['--set', 'userAgent=a\u0001b']), /userAgent: expected printable ASCII/);
  });

  test('postgres URLs pass the schema (the server decides whether it supports them)', () => {
    assert.equal(load(['--db', 'postgres://presenced@db/presenced']).config.db, 'postgres://presenced@db/presenced');
  });

  test('minExpires may not exceed the maximum expiries', () => {
    assert.match(loadError(['--set', 'minExpires=4000']), /minExpires: must not exceed maxExpiresSubscribe \(3600\), got 4000/);
  });

  test('several problems are all reported, one per line', () => {
    const lines = loadError(['--set', 'cleanPeriod=x', '--set', 'maxConnections=y']).split('\n');
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.startsWith('config: ')));
  });

  test('API tokens are never echoed', () => {
    const message = loadError([], { PRESENCED_API_TOKENS: 'good-token,bad token' });
    assert.match(message, /api\.tokens\[1\]: expected a token without spaces/);
    assert.doesNotMatch(message, /bad token/);
    assert.deepEqual(load([], { PRESENCED_API_TOKENS: 'a-token, b-token' }).config.api.tokens, ['a-token', 'b-token']);
  });
});

describe('unknown keys are errors', () => {
  test('a misspelt key in the file is rejected with a suggestion and its position', () => {
    const file = writeYaml('typo.yaml', 'cleanPeriod: 5\nmaxExpiresPublsh: 30\n');
    assert.equal(
      loadError(['--config', file]),
      `config: unknown key "maxExpiresPublsh" (did you mean "maxExpiresPublish"?) (at ${file}:2:1)`,
    );
  });

  test('a misspelt nested key is rejected', () => {
    const file = writeYaml('nested-typo.yaml', 'api:\n  tokenz: [abc]\n');
    assert.match(loadError(['--config', file]), /unknown key "api\.tokenz" \(did you mean "api\.tokens"\?\)/);
  });

  test('an unknown --set key is rejected', () => {
    assert.match(loadError(['--set', 'maxExpire=5']), /^config: --set: unknown key "maxExpire"/);
  });

  test('parseConfig rejects unknown keys too', () => {
    assert.throws(() => parseConfig({ lissten: [] }), (err: unknown) => err instanceof ConfigError && /unknown key "lissten"/.test(err.message));
  });
});

describe('the YAML file', () => {
  test('a syntax error reports file:line:col', () => {
    const file = writeYaml('syntax.yaml', 'cleanPeriod: 5\nlisten: [udp:1.2.3.4:5060\ndb: x\n');
    const message = loadError(['--config', file]);
    assert.match(message, new RegExp(`^config: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
    assert.match(message, /:[23]:\d+: /);
  });

  test('a duplicated key is a syntax error, not a silent override', () => {
    const file = writeYaml('dup.yaml', 'cleanPeriod: 5\ncleanPeriod: 6\n');
    assert.match(loadError(['--config', file]), /dup\.yaml:2:1: /);
  });

  test('an empty file is an empty configuration', () => {
    assert.equal(load(['--config', writeYaml('empty.yaml', '# nothing yet\n')]).config.cleanPeriod, 10);
  });

  test('a file that is not a mapping is rejected', () => {
    assert.match(loadError(['--config', writeYaml('list.yaml', '- a\n- b\n')]), /expected a mapping of configuration keys/);
  });

  test('a missing file is reported', () => {
    assert.match(loadError(['--config', 'does-not-exist.yaml']), /^config: cannot read config file does-not-exist\.yaml: no such file$/);
  });
});

describe('--set and flags', () => {
  test('--set sets any key, including nested ones and lists', () => {
    const { config } = load([
      '--set',
      'maxMessageSize=131072',
      '--set',
      'notifyOfflineBody=true',
      '--set',
      'api.tokens=t1,t2',
      '--set',
      'serverAddress=sip:presence.example.com:5060',
      '--set',
      'domains=a.example,b.example',
    ]);
    assert.equal(config.maxMessageSize, 131072);
    assert.equal(config.notifyOfflineBody, true);
    assert.deepEqual(config.api.tokens, ['t1', 't2']);
    assert.equal(config.serverAddress, 'sip:presence.example.com:5060');
    assert.deepEqual(config.domains, ['a.example', 'b.example']);
  });

  test('--set keeps "=" inside the value', () => {
    assert.equal(load(['--set', 'userAgent=presenced/x=y']).config.userAgent, 'presenced/x=y');
  });

  test('--set without "=" is an error', () => {
    assert.match(loadError(['--set', 'cleanPeriod']), /--set: expected KEY=VALUE, got "cleanPeriod"/);
  });

  test('unknown flags and stray arguments are errors', () => {
    assert.match(loadError(['--lsten', 'udp:1.2.3.4:5060']), /Unknown option '--lsten' \(did you mean "--listen"\?\)/);
    assert.match(loadError(['serve']), /Unexpected argument 'serve'/);
    assert.match(loadError(['--db']), /--db/);
  });
});

describe('documentation', () => {
  test('every key has a description and an environment variable', () => {
    for (const key of configKeys()) {
      assert.ok(key.description.length > 20, `${key.path} needs a real description`);
      assert.match(key.env, /^PRESENCED_[A-Z0-9_]+$/);
    }
  });

  test('docs/config.md is up to date with the schema (regenerate with scripts/gen-config-doc.ts)', async () => {
    const doc = readFileSync(join(repoRoot(), 'docs', 'config.md'), 'utf8');
    assert.equal(doc, configReference());
  });
});
