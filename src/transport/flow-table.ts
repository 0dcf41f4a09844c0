/**
 * Open TCP connections, by flow id and by remote address:port, with per-source counts for the
 * connection limits. Flow ids carry a per-process random prefix so that an id persisted with a
 * subscription before a restart never names an unrelated connection afterwards.
 */
import { randomBytes } from 'node:crypto';
import { endpointKey } from './address.js';

export interface FlowLike {
  readonly id: string;
  readonly outbound: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export class FlowTable<F extends FlowLike> {
  readonly #prefix = randomBytes(6).toString('base64url');
  #counter = 0;
  readonly #byId = new Map<string, F>();
  readonly #byRemote = new Map<string, F>();
  /** Inbound connections per remote IP. */
  readonly #perSource = new Map<string, number>();

  newId(): string {
    return `${this.#prefix}.${(++this.#counter).toString(36)}`;
  }

  get size(): number {
    return this.#byId.size;
  }

  add(flow: F): void {
    this.#byId.set(flow.id, flow);
    this.#byRemote.set(endpointKey(flow.remoteAddress, flow.remotePort), flow);
    if (!flow.outbound) this.#perSource.set(flow.remoteAddress, this.sourceCount(flow.remoteAddress) + 1);
  }

  remove(flow: F): void {
    if (this.#byId.get(flow.id) !== flow) return;
    this.#byId.delete(flow.id);
    const key = endpointKey(flow.remoteAddress, flow.remotePort);
    if (this.#byRemote.get(key) === flow) this.#byRemote.delete(key);
    if (!flow.outbound) {
      const n = this.sourceCount(flow.remoteAddress) - 1;
      if (n > 0) this.#perSource.set(flow.remoteAddress, n);
      else this.#perSource.delete(flow.remoteAddress);
    }
  }

  get(id: string): F | undefined {
    return this.#byId.get(id);
  }

  findByRemote(address: string, port: number): F | undefined {
    return this.#byRemote.get(endpointKey(address, port));
  }

  /** Inbound connections currently open from this (normalized) remote IP. */
  sourceCount(address: string): number {
    return this.#perSource.get(address) ?? 0;
  }

  values(): IterableIterator<F> {
    return this.#byId.values();
  }
}
