/** Reading an answer of the management API, shared by `presenced ctl` and `presenced user` (remote mode). */
import type { CliIo } from './serve.js';

/**
 * The JSON body of a successful answer; undefined after saying on stderr why there is none: a body that is not
 * JSON, or an API error (its code and message, with a hint about the token on 401). `who` prefixes the messages.
 */
export async function readApiAnswer(res: Response, base: string, who: string, io: CliIo): Promise<unknown> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    io.stderr(`${who}: ${base} answered HTTP ${res.status} with a body that is not JSON\n`);
    return undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } }).error;
    io.stderr(`${who}: ${err?.code ?? `HTTP ${res.status}`}: ${err?.message ?? text}\n`);
    if (res.status === 401) io.stderr(`${who}: pass --token or set PRESENCED_TOKEN\n`);
    return undefined;
  }
  return json;
}
