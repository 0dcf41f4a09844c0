/** The users and bindings tables of MemoryStore (account-records.ts), kept apart from the presence tables. */
import type { AccountMutation, BindingRecord, UserRecord } from '../account-records.js';

/** Length-prefixed so that no choice of strings can make two different keys collide. */
const key2 = (a: string, b: string): string => `${a.length}:${a}${b}`;

export class AccountTables {
  readonly #users = new Map<string, UserRecord>();
  readonly #bindings = new Map<string, BindingRecord>();

  /** Applies one account mutation (already validated). */
  apply(m: AccountMutation): void {
    switch (m.kind) {
      case 'put-user':
        this.#users.set(m.record.aor, m.record);
        return;
      case 'delete-user':
        this.#users.delete(m.aor);
        return;
      case 'put-binding':
        this.#bindings.set(key2(m.record.aor, m.record.key), m.record);
        return;
      case 'delete-binding':
        this.#bindings.delete(key2(m.aor, m.key));
        return;
    }
  }

  users(): UserRecord[] {
    return [...this.#users.values()];
  }

  bindings(): BindingRecord[] {
    return [...this.#bindings.values()];
  }
}
