/**
 * Interop and browser tests skip on a developer machine without sipp, baresip or chromium, but CI installs
 * them (.ci/run): there a skip would hide a broken install step, so it becomes a failure instead.
 */
export function ciRequires(skip: string | false): string | false {
  if (skip !== false && process.env.CI === 'true') {
    throw new Error(`${skip} - CI must install it (.ci/run); refusing to skip under CI=true`);
  }
  return skip;
}
