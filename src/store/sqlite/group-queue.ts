/**
 * Group commit, the queuing half: every write issued during one event-loop turn joins one group. The group is
 * handed over by setImmediate, which runs after the poll phase in which the turn's datagrams and TCP reads were
 * handled, or at once when it holds `maxMutations` (bounds a transaction). The sink commits the group (here, or
 * on the storage worker) and settles each caller's promise after COMMIT.
 */
import type { StoreError } from '../errors.js';
import type { StoreMutation } from '../store.js';

/** One group, as parallel arrays: call i has mutations calls[i] and settles with resolves[i] / rejects[i]. */
export interface Group {
  readonly calls: (readonly StoreMutation[])[];
  readonly resolves: (() => void)[];
  readonly rejects: ((err: StoreError) => void)[];
  readonly mutations: number;
}

export class GroupQueue {
  readonly #sink: (group: Group) => void;
  readonly #maxMutations: number;
  #calls: (readonly StoreMutation[])[] = [];
  #resolves: (() => void)[] = [];
  #rejects: ((err: StoreError) => void)[] = [];
  #mutations = 0;
  #immediate: NodeJS.Immediate | undefined;
  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.flush();
  };

  constructor(maxMutations: number, sink: (group: Group) => void) {
    this.#maxMutations = maxMutations;
    this.#sink = sink;
  }

  /** Mutations queued in the current turn, not yet handed to the sink. */
  get queuedMutations(): number {
    return this.#mutations;
  }

  enqueue(mutations: readonly StoreMutation[]): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => {
      this.#resolves.push(resolve);
      this.#rejects.push(reject);
    });
    this.#calls.push(mutations);
    this.#mutations += mutations.length;
    if (this.#mutations >= this.#maxMutations) this.flush();
    else if (this.#immediate === undefined) this.#immediate = setImmediate(this.#onImmediate);
    return promise;
  }

  /** Hands the current group to the sink now (close, load, or the size bound). */
  flush(): void {
    if (this.#immediate !== undefined) {
      clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    if (this.#calls.length === 0) return;
    const group: Group = { calls: this.#calls, resolves: this.#resolves, rejects: this.#rejects, mutations: this.#mutations };
    this.#calls = [];
    this.#resolves = [];
    this.#rejects = [];
    this.#mutations = 0;
    this.#sink(group);
  }
}

/** Settles a group's callers from a committer's outcome (undefined: all committed). */
export function settle(group: Group, outcome: readonly (StoreError | undefined)[] | undefined): void {
  const n = group.calls.length;
  if (outcome === undefined) {
    for (let i = 0; i < n; i++) group.resolves[i]!();
    return;
  }
  for (let i = 0; i < n; i++) {
    const err = outcome[i];
    if (err === undefined) group.resolves[i]!();
    else group.rejects[i]!(err);
  }
}
