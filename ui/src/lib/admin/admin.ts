// The admin view's words and its actions: what each action will do, said before
// it is confirmed, and what it did. Every name here comes from the server (and the
// agents and users it names): it travels as a `TextPart` with the characters the
// core flagged in it, and is shown as text with those characters marked.

import { AUDIT_ACTIONS } from '../backend/admin-wire';
import type {
  AccountView,
  AdminAction,
  AdminClient,
  AdminDevice,
  AdminGrant,
  AdminItem,
  AdminItems,
  AdminList,
  AdminPending,
  CharFinding,
} from '../backend/types';
import { RISKS } from '../backend/types';
import { requestFindings, reveal } from '../reveal';

/** Fixed words, or an untrusted string with the characters to mark in it. */
export type TextPart = string | { text: string; characters: CharFinding[] };

/** The admin view's pages, in the order of its tabs. */
export const ADMIN_TABS = [
  { list: 'pending', label: 'Pending' },
  { list: 'grants', label: 'Grants' },
  { list: 'clients', label: 'Clients' },
  { list: 'users', label: 'Users and devices' },
  { list: 'audit', label: 'Audit log' },
] as const satisfies readonly { list: AdminList; label: string }[];

export type AdminTab = (typeof ADMIN_TABS)[number]['list'];

/** The filters each list takes (docs/protocol.md §10), with their labels. */
export const ADMIN_FILTERS: Record<AdminTab, readonly { name: string; label: string; hint?: string; suggestions?: readonly string[] }[]> = {
  pending: [
    { name: 'sub', label: 'User (sub)' },
    { name: 'client_id', label: 'Client id' },
    { name: 'type', label: 'Detail type' },
    { name: 'risk', label: 'Risk', hint: 'low, medium, high or critical' },
    { name: 'older_than', label: 'Pending for at least (seconds)' },
  ],
  grants: [
    { name: 'status', label: 'Status', hint: 'active, expired or revoked' },
    { name: 'sub', label: 'User (sub)' },
    { name: 'client_id', label: 'Client id' },
  ],
  clients: [],
  users: [],
  audit: [
    { name: 'action', label: 'Action', hint: 'e.g. token.revoked', suggestions: AUDIT_ACTIONS },
    { name: 'sub', label: 'User (sub)' },
    { name: 'target', label: 'Target' },
    { name: 'actor', label: 'Actor', hint: 'e.g. device:dev_1, client:c_1, operator:ops' },
  ],
};

/** The accounts whose user is an administrator (the roles are refreshed at every sync). */
export function adminAccounts(accounts: readonly AccountView[] | undefined): AccountView[] {
  return (accounts ?? []).filter((a) => a.user.roles.includes('admin'));
}

/** The item as its list's type (the server sent it; the core only added the marks). */
export function itemOf<L extends AdminList>(_list: L, item: AdminItem): AdminItems[L] {
  return item.item as AdminItems[L];
}

/** The characters to mark in the string at `pointer` of the item (e.g. `/client_name`). */
export function marks(item: AdminItem, pointer: string): CharFinding[] {
  return item.text.find((t) => t.pointer === pointer)?.characters ?? [];
}

/** The string at `pointer` as an untrusted part. */
export function part(item: AdminItem, pointer: string, text: string): TextPart {
  return { text, characters: marks(item, pointer) };
}

/**
 * A top-level member (`/authorization_details`, `/data`, or one this version does not know) as
 * text with its marks: JSON the core wrote out as one line, a string, each string of an array of
 * strings (as JSON, each marked), or a plain value (a number, `true`, `null`).
 */
export function valueParts(item: AdminItem, pointer: string): TextPart[] {
  const found = item.json.find((j) => j.pointer === pointer);
  if (found) return [{ text: found.text, characters: found.characters }];
  const name = pointer.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
  const it = item.item as Record<string, unknown> | null;
  const value = it !== null && typeof it === 'object' && Object.prototype.hasOwnProperty.call(it, name) ? it[name] : undefined;
  if (typeof value === 'string') return [{ text: value, characters: marks(item, pointer) }];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    const parts: TextPart[] = ['['];
    value.forEach((v: string, i) => {
      if (i > 0) parts.push(', ');
      parts.push('"', { text: v, characters: marks(item, `${pointer}/${i}`) }, '"');
    });
    parts.push(']');
    return parts;
  }
  if (value === undefined) return ['(absent)'];
  // A number, a boolean or null: nothing in it to mark. An object or an array the core did not
  // write out cannot come from it; written as JSON, every string in it escaped to ASCII.
  return [JSON.stringify(value, null, 0).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)];
}

/** The `type` of each detail of `authorization_details`, with its marks. */
export function detailTypes(item: AdminItem): { text: string; characters: CharFinding[] }[] {
  const details = (item.item as { authorization_details?: unknown }).authorization_details;
  if (!Array.isArray(details)) return [];
  return details.map((d, i) => {
    const type = (d as { type?: unknown } | null)?.type;
    return typeof type === 'string'
      ? { text: type, characters: marks(item, `/authorization_details/${i}/type`) }
      : { text: '(no type)', characters: [] };
  });
}

/** An item's key in its list. */
export function itemKey(list: AdminList, item: AdminItem): string {
  const it = item.item as Record<string, unknown>;
  const key =
    list === 'clients' ? it.client_id : list === 'users' ? it.sub : list === 'devices' ? it.device_id : list === 'audit' ? it.seq : it.id;
  return String(key);
}

/** The server an action goes to: the account chosen when it was asked for, with its names to show. */
export interface ActionAccount {
  id: string;
  issuer: TextPart;
  name: TextPart;
}

/** The account as an action's server (`issuer` and the user's name, with their marks). */
export function actionAccount(account: AccountView): ActionAccount {
  return {
    id: account.id,
    // The issuer was checked as a URL at enrollment; the core reports no findings of it.
    issuer: { text: account.issuer, characters: [] },
    name: { text: account.user.name, characters: requestFindings(account.user_text, '/user/name') },
  };
}

/** One user an action names: its `sub` with the characters to mark (the core's, or `typedFindings`). */
export type SubPart = { text: string; characters: CharFinding[] };

/** What an admin is about to do, on which item. */
export type ActionOn =
  | { action: 'cancel'; item: AdminItem }
  | { action: 'revoke_grant'; item: AdminItem }
  | { action: 'verify_client'; item: AdminItem; verified: boolean }
  | { action: 'block' | 'unblock'; item: AdminItem; sub: SubPart | null }
  | { action: 'revoke_device'; item: AdminItem };

/** An action with the server it goes to (`account`: fixed when it was asked for, not when it runs). */
export type ActionTarget = ActionOn & { account: ActionAccount };

/** The action the backend runs for `target`. */
export function toAction(target: ActionTarget): AdminAction {
  switch (target.action) {
    case 'cancel':
      return { action: 'cancel', request_id: (target.item.item as AdminPending).id };
    case 'revoke_grant':
      return { action: 'revoke_grant', grant_id: (target.item.item as AdminGrant).id };
    case 'verify_client':
      return { action: 'verify_client', client_id: (target.item.item as AdminClient).client_id, verified: target.verified };
    case 'block':
    case 'unblock':
      // Exactly as typed or picked: nothing is trimmed (the confirmation marked every space).
      return { action: target.action, client_id: (target.item.item as AdminClient).client_id, sub: target.sub === null ? null : target.sub.text };
    case 'revoke_device':
      return { action: 'revoke_device', device_id: (target.item.item as AdminDevice).device_id };
  }
}

/** The confirmation of an action: its title, what will happen, and the button's words. */
export interface Confirmation {
  title: string;
  parts: TextPart[];
  /** The server it goes to, said when there are several administrator accounts. */
  server?: TextPart[];
  confirm: string;
}

/** "On the server … (as …)." for a confirmation or a result, when several servers may be meant. */
export function serverParts(account: ActionAccount): TextPart[] {
  return ['On the server ', account.issuer, ' (as ', account.name, ').'];
}

const AUDITED = ' This is recorded in the audit log.';

function clientName(item: AdminItem): TextPart[] {
  const c = item.item as AdminClient;
  return [part(item, '/client_name', c.client_name), ' (', part(item, '/client_id', c.client_id), ')'];
}

/**
 * What `target` will do, in words, with every untrusted name marked; with `severalServers`,
 * the server it goes to is named.
 */
export function confirmation(target: ActionTarget, severalServers = false): Confirmation {
  const said = what(target);
  return severalServers ? { ...said, server: serverParts(target.account) } : said;
}

function what(target: ActionTarget): Confirmation {
  const { item } = target;
  switch (target.action) {
    case 'cancel': {
      const r = item.item as AdminPending;
      return {
        title: 'Cancel this pending request?',
        parts: [
          'Cancel the request ',
          part(item, '/id', r.id),
          ' of ',
          part(item, '/client_name', r.client_name),
          ' (',
          part(item, '/client_id', r.client_id),
          ') to user ',
          part(item, '/user_name', r.user_name),
          ' (',
          part(item, '/sub', r.sub),
          '): it is withdrawn from the user’s approvers at once, and the agent is told that an administrator cancelled it (access_denied).',
          AUDITED,
        ],
        confirm: 'Cancel the request',
      };
    }
    case 'revoke_grant': {
      const g = item.item as AdminGrant;
      return {
        title: 'Revoke this grant?',
        parts: [
          'Revoke the grant ',
          part(item, '/id', g.id),
          ' of user ',
          part(item, '/sub', g.sub),
          ' for client ',
          part(item, '/client_id', g.client_id),
          ': its access tokens stop working at once (they introspect inactive), and so do its refresh tokens.',
          AUDITED,
        ],
        confirm: 'Revoke the grant',
      };
    }
    case 'verify_client':
      return target.verified
        ? {
            title: 'Mark this client verified?',
            parts: [
              'Mark the client ',
              ...clientName(item),
              ' verified: requests it makes from now on show it as verified to the users asked.',
              AUDITED,
            ],
            confirm: 'Mark verified',
          }
        : {
            title: 'Mark this client unverified?',
            parts: [
              'Mark the client ',
              ...clientName(item),
              ' unverified: requests it makes from now on show it as unverified, with a warning, and users who blocked unverified agents no longer receive them.',
              AUDITED,
            ],
            confirm: 'Mark unverified',
          };
    case 'block':
      return target.sub === null
        ? {
            title: 'Block this client for everyone?',
            parts: [
              'Block the client ',
              ...clientName(item),
              ' for everyone: it is disabled at once; its pending requests are cancelled and withdrawn from the approvers, its access tokens are revoked, and its calls are refused until it is unblocked.',
              AUDITED,
            ],
            confirm: 'Block for everyone',
          }
        : {
            title: 'Block this client for one user?',
            parts: [
              'Block the client ',
              ...clientName(item),
              ' for user ',
              target.sub,
              ': their pending requests from it are cancelled, their approvals not yet redeemed give it no token, its tokens for them are revoked, and its later requests to them are refused.',
              AUDITED,
            ],
            confirm: 'Block for this user',
          };
    case 'unblock':
      return target.sub === null
        ? {
            title: 'Unblock this client for everyone?',
            parts: [
              'Unblock the client ',
              ...clientName(item),
              ' for everyone: it is enabled again and may ask users for approval again. Tokens revoked by the block stay revoked.',
              AUDITED,
            ],
            confirm: 'Unblock for everyone',
          }
        : {
            title: 'Unblock this client for one user?',
            parts: [
              'Unblock the client ',
              ...clientName(item),
              ' for user ',
              target.sub,
              ': this lifts an administrator’s block of it for them only. A block from the user’s own “This wasn’t me” reports is not lifted here: it lapses on its own once those reports are older than the server’s not_me window. Tokens revoked by the block stay revoked.',
              AUDITED,
            ],
            confirm: 'Unblock for this user',
          };
    case 'revoke_device': {
      const d = item.item as AdminDevice;
      return {
        title: 'Revoke this device?',
        parts: [
          'Revoke the device ',
          part(item, '/device_name', d.device_name),
          ' (',
          part(item, '/device_id', d.device_id),
          ') of user ',
          part(item, '/sub', d.sub),
          ': it is refused at once and its open connections are closed; it cannot approve anything until it is enrolled again.',
          AUDITED,
        ],
        confirm: 'Revoke the device',
      };
    }
  }
}

/** What an action did (`changed`), or that there was nothing to change. */
export function outcome(target: ActionTarget, changed: boolean): TextPart[] {
  const { item } = target;
  switch (target.action) {
    case 'cancel': {
      const id = part(item, '/id', (item.item as AdminPending).id);
      return changed
        ? ['Cancelled the request ', id, '.']
        : ['Nothing to change: the request ', id, ' was no longer pending.'];
    }
    case 'revoke_grant': {
      const id = part(item, '/id', (item.item as AdminGrant).id);
      return changed ? ['Revoked the grant ', id, ': its access and refresh tokens no longer work.'] : ['Nothing to change: the grant ', id, ' was already revoked.'];
    }
    case 'verify_client': {
      const state = target.verified ? 'verified' : 'unverified';
      return changed
        ? ['Marked the client ', ...clientName(item), ` ${state}.`]
        : ['Nothing to change: the client ', ...clientName(item), ` was already ${state}.`];
    }
    case 'block':
    case 'unblock': {
      const whom: TextPart[] = target.sub === null ? [' for everyone'] : [' for user ', target.sub];
      if (target.action === 'block') {
        return changed
          ? ['Blocked the client ', ...clientName(item), ...whom, '.']
          : ['Nothing to change: the client ', ...clientName(item), ' was already blocked', ...whom, '.'];
      }
      return changed
        ? ['Unblocked the client ', ...clientName(item), ...whom, '.']
        : target.sub === null
          ? ['Nothing to change: the client ', ...clientName(item), ' was not blocked', ...whom, '.']
          : ['Nothing to change: the client ', ...clientName(item), ' was not blocked by an administrator', ...whom, '.'];
    }
    case 'revoke_device': {
      const id = part(item, '/device_id', (item.item as AdminDevice).device_id);
      return changed ? ['Revoked the device ', id, '.'] : ['Nothing to change: the device ', id, ' was already revoked.'];
    }
  }
}

/** The query of a list: its filters that are set, then `limit` and `cursor`. */
export function listQuery(filters: Record<string, string>, limit: number, cursor: string | null): [string, string][] {
  const query: [string, string][] = Object.entries(filters)
    .map(([name, value]): [string, string] => [name, value.trim()])
    .filter(([, value]) => value !== '');
  query.push(['limit', String(limit)]);
  if (cursor !== null) query.push(['cursor', cursor]);
  return query;
}

/** The class of a grant's status: a fixed one for a value this version does not know. */
export function statusClass(status: unknown): string {
  return status === 'active' || status === 'expired' || status === 'revoked' ? `status-${status}` : 'status-unknown';
}

/** Whether `risk` is a level this version knows (else it is shown as sent, marked). */
export function knownRisk(risk: unknown): boolean {
  return typeof risk === 'string' && (RISKS as readonly string[]).includes(risk);
}

/** `text` with each flagged character replaced by U+FFFD, for places that cannot show marks (an `<option>`), as the notifications do. */
export function replaceFlagged(text: string, characters: readonly CharFinding[]): string {
  return reveal(text, characters)
    .map((s) => (s.kind === 'text' ? s.text : '\uFFFD'))
    .join('');
}

const TYPED_NAMES: Record<number, string> = {
  0x09: 'CHARACTER TABULATION',
  0x0a: 'LINE FEED',
  0x0d: 'CARRIAGE RETURN',
  0x20: 'SPACE',
  0xa0: 'NO-BREAK SPACE',
  0xad: 'SOFT HYPHEN',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
};

/**
 * The characters to mark in an identifier the administrator typed (a user's `sub`). The core's
 * classifier is not reachable for typed text, and the UI keeps no copy of its tables; an
 * identifier is held to a stricter rule instead: every character but printable ASCII
 * (U+0021 to U+007E) is marked, spaces included, so that nothing typed is trimmed or hidden.
 * Everything the classifier flags is outside that range.
 */
export function typedFindings(text: string): CharFinding[] {
  const found: CharFinding[] = [];
  let position = 0;
  let utf16 = 0;
  for (const c of text) {
    const cp = c.codePointAt(0) ?? 0;
    if (cp < 0x21 || cp > 0x7e) {
      found.push({
        code_point: `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`,
        name: TYPED_NAMES[cp] ?? (/[\p{C}\p{Z}\p{M}]/u.test(c) ? 'INVISIBLE, CONTROL OR COMBINING CHARACTER' : 'NOT PRINTABLE ASCII'),
        position,
        utf16_offset: utf16,
      });
    }
    position += 1;
    utf16 += c.length;
  }
  return found;
}

/** The members each list's panel shows under their own labels; any other member is shown as sent, below them. */
export const KNOWN_MEMBERS: Record<AdminList, readonly string[]> = {
  pending: ['id', 'client_id', 'client_name', 'verified', 'sub', 'user_name', 'binding_message', 'scope', 'authorization_details', 'risk', 'created_at', 'expires_at'],
  grants: ['id', 'request_id', 'sub', 'client_id', 'scope', 'authorization_details', 'amr', 'issued_at', 'expires_at', 'status', 'revoked_at', 'refreshable_until'],
  clients: ['client_id', 'client_name', 'delivery_mode', 'verified', 'verified_by', 'blocked', 'blocked_for', 'created_at'],
  users: ['sub', 'username', 'name', 'roles', 'disabled', 'active_devices'],
  devices: ['device_id', 'sub', 'device_name', 'platform', 'created_at', 'revoked_at'],
  audit: ['seq', 'at', 'actor', 'action', 'target', 'sub', 'data', 'hash'],
};

/** The members of `item` its list's panel has no label for (a newer server's), each with its name's marks. */
export function otherMembers(list: AdminList, item: AdminItem): { name: TextPart; pointer: string }[] {
  const it = item.item;
  if (typeof it !== 'object' || it === null || Array.isArray(it)) return [];
  return Object.keys(it)
    .filter((name) => !KNOWN_MEMBERS[list].includes(name))
    .map((name) => {
      const pointer = `/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      return { name: { text: name, characters: marks(item, `${pointer}#name`) }, pointer };
    });
}
