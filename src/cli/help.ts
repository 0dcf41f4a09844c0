import { cliFlags, configKeys, defaultText, presencedVersion } from '../config/index.js';

const WIDTH = 100;

function wrap(text: string, indent: number, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l);
}

/** `presenced --help`: flags, then every configuration key with its environment variable and default. */
export function renderHelp(): string {
  const keys = new Map(configKeys().map((k) => [k.path, k]));
  const out: string[] = [
    `presenced ${presencedVersion()}: SIP presence server (PUBLISH, SUBSCRIBE/NOTIFY, PIDF, BLF, MWI)`,
    '',
    'Usage: presenced [options]',
    '       presenced ctl <command> [options]    manage a running server (presenced ctl --help)',
    '       presenced user add|del|list [options]  SIP users (presenced user --help)',
    '',
    'Options:',
  ];
  for (const f of cliFlags()) {
    const names = `${f.short !== undefined ? `-${f.short}, ` : ''}--${f.name}${f.arg !== undefined ? ` ${f.arg}` : ''}`;
    out.push(`  ${names}`);
    const key = f.key !== undefined ? keys.get(f.key) : undefined;
    const extra: string[] = [];
    if (key) extra.push(`default ${defaultText(key)}`, `env ${key.env}`);
    if (f.env !== undefined) extra.push(`env ${f.env}`);
    out.push(...wrap(`${f.description}${extra.length > 0 ? ` [${extra.join('; ')}]` : ''}`, 6));
  }
  out.push(
    '',
    'Configuration keys (YAML key and --set KEY=VALUE; environment variable; default):',
  );
  for (const k of configKeys()) {
    out.push(`  ${k.path} (${k.type}; ${k.env}; default ${defaultText(k)})`);
    out.push(...wrap(k.description, 6));
  }
  out.push(
    '',
    ...wrap(
      'Precedence: defaults < YAML file (--config or PRESENCED_CONFIG) < PRESENCED_* environment < --set < dedicated flags. ' +
        'In the environment and --set, lists are comma-separated and an empty value counts as unset. ' +
        'The full reference is docs/config.md.',
      0,
    ),
    '',
    'Signals: SIGTERM and SIGINT stop the server cleanly.',
    'Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on a configuration or usage error.',
    '',
  );
  return out.join('\n');
}
