/**
 * A configuration problem the operator must fix: bad flag, unreadable file, invalid value, unknown key.
 * The message is complete and meant to be printed as is (one line per problem, each starting with `config:`).
 */
export class ConfigError extends Error {
  readonly code = 'PRS_ERR_CONFIG';
  /** One entry per problem, without the `config: ` prefix. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.map((p) => `config: ${p}`).join('\n'));
    this.name = 'ConfigError';
    this.problems = list;
  }
}

/** Levenshtein distance, to suggest the key an operator probably meant. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** ` (did you mean "x"?)` when a known name is close enough to the unknown one, else ''. */
export function didYouMean(unknown: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of known) {
    const score = distance(unknown.toLowerCase(), candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  const threshold = Math.max(2, Math.floor(unknown.length / 3));
  return best !== undefined && bestScore <= threshold ? ` (did you mean "${best}"?)` : '';
}

/** Renders a value the way the operator wrote it, short enough for one line. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `['listen', 1]` -> `listen[1]`, `['api', 'tokens']` -> `api.tokens`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
