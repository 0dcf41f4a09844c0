/**
 * URI patterns of the API's filters: a glob with `*` (any run of characters) and `?` (one character),
 * case-insensitive. Matched by the two-pointer wildcard algorithm, linear in practice and O(n*m) at worst,
 * because a pattern from a query string must not be able to make a backtracking regex run for seconds.
 */

export const MAX_PATTERN_LENGTH = 256;

export function globMatcher(pattern: string): (text: string) => boolean {
  const p = pattern.toLowerCase();
  if (!p.includes('*') && !p.includes('?')) return (text) => text.toLowerCase() === p;
  return (text) => globMatch(p, text.toLowerCase());
}

function globMatch(p: string, t: string): boolean {
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    const pc = p.charCodeAt(pi);
    if (pi < p.length && (pc === 63 /* ? */ || pc === t.charCodeAt(ti))) {
      pi++;
      ti++;
    } else if (pi < p.length && pc === 42 /* * */) {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p.charCodeAt(pi) === 42) pi++;
  return pi === p.length;
}

/**
 * The user and host of a presentity URI (sip:alice@example.com -> alice, example.com), as OpenSIPS events
 * report them. Tolerant: a URI without user gives an empty user.
 */
export function splitAor(uri: string): { user: string; domain: string } {
  const colon = uri.indexOf(':');
  let rest = colon >= 0 ? uri.slice(colon + 1) : uri;
  const end = rest.search(/[;?>]/);
  if (end >= 0) rest = rest.slice(0, end);
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : '';
  let domain = at >= 0 ? rest.slice(at + 1) : rest;
  // Drop a port, keeping IPv6 references whole.
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close > 0) domain = domain.slice(0, close + 1);
  } else {
    const c = domain.indexOf(':');
    if (c >= 0) domain = domain.slice(0, c);
  }
  return { user, domain: domain.toLowerCase() };
}
