/**
 * SQLite statements of the users and bindings tables (schema migration 3), beside the presence statements in
 * statements.ts: prepared once, positional arguments, and a start-up read that validates every row.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { checkBinding, checkUser, type AccountMutation, type BindingRecord, type UserRecord } from '../account-records.js';

type Stmt = Database.Statement<unknown[]>;

const USER_COLUMNS = 'aor, username, realm, ha1_md5, ha1_sha256, created_at, updated_at';
const BINDING_COLUMNS =
  'aor, binding_key, uri, contact, q, instance, reg_id, expires_at, registered_at, updated_at, call_id, cseq, path, ' +
  'user_agent, flow_protocol, flow_address, flow_port, flow_id, flow_local_address, flow_local_port';

function upsert(table: string, columns: string, key: readonly string[]): string {
  const names = columns.split(', ');
  const updates = names.filter((n) => !key.includes(n)).map((n) => `${n} = excluded.${n}`).join(', ');
  return `INSERT INTO ${table} (${columns}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updates}`;
}

const orUndefined = <T>(v: unknown): T | undefined => (v === null ? undefined : (v as T));

function badRow(table: string, key: string, problem: string): StoreError {
  return new StoreError('STORE_ERR_LOAD_FAILED', `${table} row ${JSON.stringify(key)} is not a valid record: ${problem}`);
}

export class AccountStatements {
  readonly #putUser: Stmt;
  readonly #deleteUser: Stmt;
  readonly #putBinding: Stmt;
  readonly #deleteBinding: Stmt;
  readonly #loadUsers: Stmt;
  readonly #loadBindings: Stmt;

  constructor(db: Database.Database) {
    this.#putUser = db.prepare(upsert('users', USER_COLUMNS, ['aor']));
    this.#deleteUser = db.prepare('DELETE FROM users WHERE aor = ?');
    this.#putBinding = db.prepare(upsert('bindings', BINDING_COLUMNS, ['aor', 'binding_key']));
    this.#deleteBinding = db.prepare('DELETE FROM bindings WHERE aor = ? AND binding_key = ?');
    this.#loadUsers = db.prepare(`SELECT ${USER_COLUMNS} FROM users`).raw(true);
    this.#loadBindings = db.prepare(`SELECT ${BINDING_COLUMNS} FROM bindings`).raw(true);
  }

  /** Executes one mutation inside the caller's transaction; throws the driver's error. */
  apply(m: AccountMutation): void {
    switch (m.kind) {
      case 'put-user': {
        const r = m.record;
        this.#putUser.run(r.aor, r.username, r.realm, r.ha1Md5, r.ha1Sha256, r.createdAt, r.updatedAt);
        return;
      }
      case 'delete-user':
        this.#deleteUser.run(m.aor);
        return;
      case 'put-binding': {
        const r = m.record;
        const f = r.flow;
        this.#putBinding.run(
          r.aor, r.key, r.uri, r.contact, r.q ?? null, r.instance ?? null, r.regId ?? null,
          r.expiresAt, r.registeredAt, r.updatedAt, r.callId, r.cseq, JSON.stringify(r.path),
          r.userAgent ?? null, f.protocol, f.address, f.port, f.flowId ?? null, f.localAddress, f.localPort,
        );
        return;
      }
      case 'delete-binding':
        this.#deleteBinding.run(m.aor, m.key);
        return;
    }
  }

  loadUsers(): UserRecord[] {
    const out: UserRecord[] = [];
    for (const c of this.#loadUsers.all() as unknown[][]) {
      const record: UserRecord = {
        aor: c[0] as string,
        username: c[1] as string,
        realm: c[2] as string,
        ha1Md5: c[3] as string,
        ha1Sha256: c[4] as string,
        createdAt: c[5] as number,
        updatedAt: c[6] as number,
      };
      const problem = checkUser(record);
      if (problem !== undefined) throw badRow('users', record.aor, problem);
      out.push(record);
    }
    return out;
  }

  loadBindings(): BindingRecord[] {
    const out: BindingRecord[] = [];
    for (const c of this.#loadBindings.all() as unknown[][]) {
      let record: BindingRecord;
      try {
        const path: unknown = JSON.parse(c[12] as string);
        record = {
          aor: c[0] as string,
          key: c[1] as string,
          uri: c[2] as string,
          contact: c[3] as string,
          q: orUndefined<number>(c[4]),
          instance: orUndefined<string>(c[5]),
          regId: orUndefined<number>(c[6]),
          expiresAt: c[7] as number,
          registeredAt: c[8] as number,
          updatedAt: c[9] as number,
          callId: c[10] as string,
          cseq: c[11] as number,
          path: path as string[],
          userAgent: orUndefined<string>(c[13]),
          flow: {
            protocol: c[14] as 'udp' | 'tcp',
            address: c[15] as string,
            port: c[16] as number,
            flowId: orUndefined<string>(c[17]),
            localAddress: c[18] as string,
            localPort: c[19] as number,
          },
        };
      } catch (err) {
        throw badRow('bindings', `${String(c[0])} ${String(c[1])}`, err instanceof Error ? err.message : String(err));
      }
      const problem = checkBinding(record);
      if (problem !== undefined) throw badRow('bindings', `${record.aor} ${record.key}`, problem);
      out.push(record);
    }
    return out;
  }
}
