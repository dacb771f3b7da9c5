// The fake backend's admin API: an organisation generated deterministically from
// a few counts (100,000 audit entries and 10,000 grants are made item by item as
// pages are asked for, never all at once), with the server's filters, cursor
// paging and actions (docs/protocol.md §10), for component and browser tests
// and for `npm run dev`.

import type {
  AdminAction,
  AdminActionResult,
  AdminAuditEntry,
  AdminClient,
  AdminDevice,
  AdminGrant,
  AdminItem,
  AdminList,
  AdminPageView,
  AdminPending,
  AdminUser,
  BackendError,
  CharFinding,
} from './types';

export interface FakeAdminOptions {
  /** Generated audit entries (default 200). */
  auditEntries?: number;
  /** Generated grants (default 60). */
  grants?: number;
  /** Generated pending requests (default 12). */
  pending?: number;
  /** Clients instead of the generated ones. */
  clients?: AdminClient[];
  /** Users instead of the generated ones. */
  users?: AdminUser[];
  /** Devices instead of the generated ones. */
  devices?: AdminDevice[];
  /** Audit entries shown before the generated ones (newest first). */
  audit?: AdminAuditEntry[];
  /** Pending requests shown before the generated ones. */
  pendingRequests?: AdminPending[];
  /** Grants shown before the generated ones. */
  grantList?: AdminGrant[];
}

/** The actor the fake's administrator acts as. */
export const FAKE_ADMIN_ACTOR = 'device:dev_fake_admin';

const FILTERS: Record<AdminList, readonly string[]> = {
  pending: ['sub', 'client_id', 'type', 'risk', 'older_than'],
  grants: ['sub', 'client_id', 'status'],
  clients: [],
  users: [],
  devices: ['sub'],
  audit: ['action', 'sub', 'target', 'actor'],
};

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

const CLIENT_NAMES = [
  'Billing agent',
  'Deploy bot',
  'Travel assistant',
  'Expense helper',
  'Calendar agent',
  'Support copilot',
  'Payroll runner',
  'Research assistant',
  'Procurement agent',
  'Backup orchestrator',
  'Invoice \u202egnp.exe',
];

const ACTIONS = [
  'request.created',
  'request.decided',
  'token.issued',
  'token.revoked',
  'request.cancelled',
  'device.enrolled',
  'client.verification',
] as const;

const RISKS = ['low', 'medium', 'high', 'critical'] as const;

/** The fake's stand-in for the core's classifier: control, format and separator characters. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const NAMES: Record<number, string> = {
  0x200b: 'ZERO WIDTH SPACE',
  0x200d: 'ZERO WIDTH JOINER',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x0007: 'BELL',
  0x000a: 'LINE FEED',
  0x001b: 'ESCAPE',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
};

/** The characters the fake marks in `text` (the core's `Revealed::line` in the real app). */
export function fakeFindings(text: string): CharFinding[] {
  const found: CharFinding[] = [];
  let position = 0;
  let utf16 = 0;
  for (const c of text) {
    if (HIDDEN.test(c)) {
      const cp = c.codePointAt(0) ?? 0;
      found.push({
        code_point: `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`,
        name: NAMES[cp] ?? 'HIDDEN CHARACTER',
        position,
        utf16_offset: utf16,
      });
    }
    position += 1;
    utf16 += c.length;
  }
  return found;
}

function pointerToken(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** An item with its marks, as the core's `AdminItem::of` makes it. */
export function fakeAdminItem(item: unknown): AdminItem {
  const text: AdminItem['text'] = [];
  const walk = (value: unknown, at: string): void => {
    if (typeof value === 'string') {
      const characters = fakeFindings(value);
      if (characters.length > 0) text.push({ pointer: at, characters });
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${at}/${i}`));
    } else if (typeof value === 'object' && value !== null) {
      for (const [name, v] of Object.entries(value)) {
        const here = `${at}/${pointerToken(name)}`;
        const characters = fakeFindings(name);
        if (characters.length > 0) text.push({ pointer: `${here}#name`, characters });
        walk(v, here);
      }
    }
  };
  walk(item, '');
  const json: AdminItem['json'] = [];
  if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
    for (const [name, value] of Object.entries(item)) {
      const structured =
        (typeof value === 'object' && value !== null && !Array.isArray(value)) ||
        (Array.isArray(value) && value.some((v) => typeof v !== 'string'));
      if (structured) {
        const line = JSON.stringify(value);
        json.push({ pointer: `/${pointerToken(name)}`, text: line, characters: fakeFindings(line) });
      }
    }
  }
  return { item, text, json };
}

function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function refused(status: number, error: string, description: string): BackendError {
  return { code: 'server_refused', message: `the server refused (${status} ${error}): ${description}` };
}

/** A list the fake pages through: `count` items, `get(i)` the i-th (newest first). */
interface Source<T> {
  count(): number;
  get(i: number): T;
}

function arraySource<T>(items: () => T[]): Source<T> {
  return { count: () => items().length, get: (i) => items()[i] as T };
}

export class FakeAdmin {
  readonly #t: number;
  #now: () => number;
  #clients: AdminClient[];
  #users: AdminUser[];
  #devices: AdminDevice[];
  #pending: AdminPending[];
  #cancelled = new Set<string>();
  #grantList: AdminGrant[];
  #grantCount: number;
  #revoked = new Map<string, number>();
  #auditCount: number;
  /** Entries written by actions and given ones, newest first, before the generated ones. */
  #recent: AdminAuditEntry[];
  #given: number;

  constructor(options: FakeAdminOptions, now: () => number) {
    this.#now = now;
    this.#t = now();
    const t = this.#t;
    this.#clients =
      (options.clients && copy(options.clients)) ??
      CLIENT_NAMES.map((name, i) => ({
        client_id: i === CLIENT_NAMES.length - 1 ? 'client_rlo' : `client_${String(i).padStart(2, '0')}`,
        client_name: name,
        delivery_mode: i % 3 === 0 ? 'push' : 'poll',
        verified: i % 4 !== 3,
        ...(i % 4 !== 3 ? { verified_by: 'operator:ops' } : {}),
        blocked: i === 9,
        ...(i === 8 ? { blocked_for: ['u_0003'] } : {}),
        created_at: t - 86_400 * (30 - i),
      }));
    this.#users =
      (options.users && copy(options.users)) ??
      Array.from({ length: 24 }, (_, i) => ({
        sub: i === 0 ? 'u_admin' : `u_${String(i).padStart(4, '0')}`,
        username: i === 0 ? 'ada' : `user${i}`,
        name: i === 0 ? 'Ada Admin' : i === 7 ? 'Mallory\u200b Admin' : `User ${i}`,
        roles: i === 0 ? ['admin', 'user'] : ['user'],
        disabled: i === 13,
        active_devices: i % 3 === 2 ? 1 : 2,
      }));
    this.#devices =
      (options.devices && copy(options.devices)) ??
      this.#users.flatMap((u, i) =>
        Array.from({ length: i % 3 === 2 ? 2 : 2 }, (_, k) => ({
          device_id: `dev_${u.sub}_${k}`,
          sub: u.sub,
          device_name: k === 0 ? `${u.username}'s laptop` : `${u.username}'s phone`,
          platform: k === 0 ? 'linux' : 'android',
          created_at: t - 86_400 * (20 - (i % 20)) - k,
          ...(i % 3 === 2 && k === 1 ? { revoked_at: t - 3_600 } : {}),
        })),
      );
    const users = this.#users;
    const clients = this.#clients;
    const generatedPending = Array.from({ length: options.pending ?? 12 }, (_, i): AdminPending => {
      const user = users[i % users.length] as AdminUser;
      const client = clients[i % clients.length] as AdminClient;
      return {
        id: `req_${String(i).padStart(5, '0')}`,
        client_id: client.client_id,
        client_name: client.client_name,
        verified: client.verified,
        sub: user.sub,
        user_name: user.name,
        binding_message: `BX-${(4000 + i * 7).toString(36).toUpperCase()}`,
        scope: ['openid', i % 2 === 0 ? 'payments' : 'deploy'],
        authorization_details: [
          i % 2 === 0
            ? { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: String(10 + i * 3) } }
            : { type: 'deployment', environment: i % 4 === 1 ? 'production' : 'staging' },
        ],
        risk: RISKS[i % RISKS.length] as AdminPending['risk'],
        created_at: t - 30 * (i + 1),
        expires_at: t + 600 - 30 * i,
      };
    });
    this.#pending = [...copy(options.pendingRequests ?? []), ...generatedPending];
    this.#grantList = copy(options.grantList ?? []);
    this.#grantCount = options.grants ?? 60;
    this.#auditCount = options.auditEntries ?? 200;
    this.#recent = copy(options.audit ?? []);
    this.#given = this.#recent.length;
  }

  /** The generated grant `i` (0: the newest), with what actions changed in it. */
  #grant(i: number): AdminGrant {
    if (i < this.#grantList.length) {
      const given = this.#grantList[i] as AdminGrant;
      const at = this.#revoked.get(given.id);
      if (at === undefined) return given;
      // Revoked: its refresh token ended with it.
      const kept: AdminGrant = { ...given, status: 'revoked', revoked_at: at };
      delete kept.refreshable_until;
      return kept;
    }
    const g = i - this.#grantList.length;
    const user = this.#users[g % this.#users.length] as AdminUser;
    const client = this.#clients[(g * 7) % this.#clients.length] as AdminClient;
    const issued = this.#t - 45 * g;
    const id = `jti_${String(g).padStart(6, '0')}`;
    const revokedAt = this.#revoked.get(id) ?? (g % 17 === 5 ? issued + 30 : undefined);
    const expires = issued + 900;
    // One grant in four holds a refresh token for a week: active past its
    // access token's end, as the server says.
    const refreshable = revokedAt === undefined && g % 4 === 1 ? issued + 7 * 86_400 : undefined;
    const live = expires > this.#now() || (refreshable !== undefined && refreshable > this.#now());
    return {
      id,
      request_id: `req_g${g}`,
      sub: user.sub,
      client_id: client.client_id,
      scope: ['openid', g % 2 === 0 ? 'payments' : 'deploy'],
      authorization_details:
        g % 2 === 0
          ? [{ type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: String(5 + (g % 400)) } }]
          : [{ type: 'deployment', environment: 'staging' }, { type: 'repository_access', repo: `org/svc-${g % 9}` }],
      ...(g % 3 === 0 ? { amr: ['user', 'hwk'] } : {}),
      issued_at: issued,
      expires_at: expires,
      status: revokedAt !== undefined ? 'revoked' : live ? 'active' : 'expired',
      ...(revokedAt !== undefined ? { revoked_at: revokedAt } : {}),
      ...(refreshable !== undefined && refreshable > this.#now() ? { refreshable_until: refreshable } : {}),
    };
  }

  /** Audit entry `i` (0: the newest). */
  #audit(i: number): AdminAuditEntry {
    if (i < this.#recent.length) return this.#recent[i] as AdminAuditEntry;
    const k = i - this.#recent.length;
    const seq = this.#auditCount - k;
    const action = ACTIONS[seq % ACTIONS.length] as (typeof ACTIONS)[number];
    const user = this.#users[seq % this.#users.length] as AdminUser;
    const client = this.#clients[seq % this.#clients.length] as AdminClient;
    const byClient = action === 'request.created' || action === 'token.issued';
    const target =
      action === 'token.issued' || action === 'token.revoked'
        ? `jti_${String(seq % 10_000).padStart(6, '0')}`
        : action === 'device.enrolled'
          ? `dev_${user.sub}_0`
          : action === 'client.verification'
            ? client.client_id
            : `req_a${seq}`;
    const data: Record<string, unknown> =
      action === 'request.created'
        ? { client_name: client.client_name, risk: RISKS[seq % 4], types: ['payment_initiation'] }
        : action === 'request.decided'
          ? { decision: seq % 5 === 0 ? 'deny' : 'approve', decision_jws: `eyJhbGciOiJFUzI1NiJ9.e30.sig${seq}` }
          : action === 'client.verification'
            ? { verified: seq % 2 === 0 }
            : {};
    return {
      seq,
      at: this.#t - 5 * k,
      actor: byClient ? `client:${client.client_id}` : action === 'client.verification' ? 'operator:ops' : `device:dev_${user.sub}_0`,
      action,
      target,
      sub: user.sub,
      data,
      hash: `h${seq.toString(36)}`,
    };
  }

  #record(action: string, target: string, sub: string | undefined, data: Record<string, unknown>): void {
    const seq = this.#auditCount + this.#recent.length - this.#given + 1;
    this.#recent.unshift({
      seq,
      at: this.#now(),
      actor: FAKE_ADMIN_ACTOR,
      action,
      target,
      ...(sub !== undefined ? { sub } : {}),
      data,
      hash: `h${seq.toString(36)}`,
    });
  }

  #source(list: AdminList): Source<unknown> {
    switch (list) {
      case 'pending':
        return arraySource(() => this.#pending.filter((p) => !this.#cancelled.has(p.id)));
      case 'grants':
        return { count: () => this.#grantList.length + this.#grantCount, get: (i) => this.#grant(i) };
      case 'clients':
        return arraySource(() => this.#clients);
      case 'users':
        return arraySource(() => this.#users);
      case 'devices':
        return arraySource(() => this.#devices);
      case 'audit':
        return { count: () => this.#recent.length + this.#auditCount, get: (i) => this.#audit(i) };
    }
  }

  page(list: AdminList, query: readonly [string, string][]): AdminPageView {
    const params = new Map<string, string>();
    for (const [name, value] of query) {
      if (params.has(name)) throw refused(400, 'invalid_request', `${name} given twice`);
      if (name !== 'limit' && name !== 'cursor' && !FILTERS[list].includes(name)) {
        throw refused(400, 'invalid_request', `unknown parameter ${name}`);
      }
      params.set(name, value);
    }
    const limit = Number(params.get('limit') ?? DEFAULT_PAGE);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw refused(400, 'invalid_request', 'bad limit');
    const start = params.has('cursor') ? Number(params.get('cursor')) : 0;
    if (!Number.isInteger(start) || start < 0) throw refused(400, 'invalid_request', 'bad cursor');
    const keep = this.#filter(list, params);
    const source = this.#source(list);
    const count = source.count();
    const items: AdminItem[] = [];
    // A filtered page looks at a bounded stretch, as the server's audit log does.
    const stretch = Math.min(count, start + Math.max(limit * 40, 20_000));
    let i = start;
    for (; i < stretch && items.length < limit; i++) {
      const item = source.get(i);
      if (keep(item)) items.push(fakeAdminItem(copy(item)));
    }
    return { items, next_cursor: i < count ? String(i) : null };
  }

  #filter(list: AdminList, params: Map<string, string>): (item: unknown) => boolean {
    const tests: ((item: Record<string, unknown>) => boolean)[] = [];
    for (const [name, value] of params) {
      if (name === 'limit' || name === 'cursor') continue;
      if (name === 'type') {
        tests.push((it) => Array.isArray(it.authorization_details) && it.authorization_details.some((d) => (d as { type?: unknown }).type === value));
      } else if (name === 'older_than') {
        const seconds = Number(value);
        tests.push((it) => typeof it.created_at === 'number' && this.#now() - it.created_at >= seconds);
      } else {
        tests.push((it) => it[name] === value);
      }
    }
    void list;
    return (item) => tests.every((t) => t(item as Record<string, unknown>));
  }

  act(action: AdminAction): AdminActionResult {
    const now = this.#now();
    switch (action.action) {
      case 'cancel': {
        const request = this.#pending.find((p) => p.id === action.request_id);
        if (!request) throw refused(404, 'not_found', `no request ${action.request_id}`);
        if (this.#cancelled.has(request.id)) return { changed: false };
        this.#cancelled.add(request.id);
        this.#record('request.cancelled', request.id, request.sub, { by: 'admin' });
        return { changed: true };
      }
      case 'revoke_grant': {
        const grant = this.#findGrant(action.grant_id);
        if (!grant) throw refused(404, 'not_found', `no grant ${action.grant_id}`);
        if (grant.status === 'revoked') return { changed: false };
        this.#revoked.set(grant.id, now);
        this.#record('token.revoked', grant.id, grant.sub, { reason: 'admin' });
        return { changed: true };
      }
      case 'verify_client': {
        const client = this.#client(action.client_id);
        if (client.verified === action.verified) return { changed: false };
        client.verified = action.verified;
        if (action.verified) client.verified_by = FAKE_ADMIN_ACTOR;
        else delete client.verified_by;
        this.#record('client.verification', client.client_id, undefined, { verified: action.verified });
        return { changed: true };
      }
      case 'block':
      case 'unblock': {
        const client = this.#client(action.client_id);
        const block = action.action === 'block';
        if (action.sub === null) {
          if (client.blocked === block) return { changed: false };
          client.blocked = block;
        } else {
          const sub = action.sub;
          if (!this.#users.some((u) => u.sub === sub)) throw refused(404, 'not_found', `no user ${sub}`);
          const list = client.blocked_for ?? [];
          if (list.includes(sub) === block) return { changed: false };
          client.blocked_for = block ? [...list, sub] : list.filter((s) => s !== sub);
          if (client.blocked_for.length === 0) delete client.blocked_for;
        }
        this.#record(block ? 'client.blocked' : 'client.unblocked', client.client_id, action.sub ?? undefined, {});
        return { changed: true };
      }
      case 'revoke_device': {
        const device = this.#devices.find((d) => d.device_id === action.device_id);
        if (!device) throw refused(404, 'not_found', `no device ${action.device_id}`);
        if (device.revoked_at !== undefined) return { changed: false };
        device.revoked_at = now;
        const user = this.#users.find((u) => u.sub === device.sub);
        if (user) user.active_devices = Math.max(0, user.active_devices - 1);
        this.#record('device.revoked', device.device_id, device.sub, {});
        return { changed: true };
      }
    }
  }

  #client(clientId: string): AdminClient {
    const client = this.#clients.find((c) => c.client_id === clientId);
    if (!client) throw refused(404, 'not_found', `no client ${clientId}`);
    return client;
  }

  #findGrant(id: string): AdminGrant | undefined {
    const given = this.#grantList.findIndex((g) => g.id === id);
    if (given >= 0) return this.#grant(given);
    const m = /^jti_(\d{6})$/.exec(id);
    if (!m) return undefined;
    const g = Number(m[1]);
    return g < this.#grantCount ? this.#grant(this.#grantList.length + g) : undefined;
  }
}
