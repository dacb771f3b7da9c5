// The admin view's words and its actions: what each action will do, said before
// it is confirmed, and what it did. Every name here comes from the server (and the
// agents and users it names): it travels as a `TextPart` with the characters the
// core flagged in it, and is shown as text with those characters marked.

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
export const ADMIN_FILTERS: Record<AdminTab, readonly { name: string; label: string; hint?: string }[]> = {
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
    { name: 'action', label: 'Action', hint: 'e.g. token.revoked' },
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

/** A member holding JSON (`/authorization_details`, `/data`) as one line, with its marks. */
export function jsonLine(item: AdminItem, pointer: string): { text: string; characters: CharFinding[] } {
  const found = item.json.find((j) => j.pointer === pointer);
  if (found) return { text: found.text, characters: found.characters };
  // A member the core did not write out: a string (marked) or a plain value.
  const value = (item.item as Record<string, unknown> | null)?.[pointer.slice(1)];
  if (typeof value === 'string') return { text: value, characters: marks(item, pointer) };
  return { text: value === undefined ? '' : JSON.stringify(value), characters: [] };
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

/** What an admin is about to do, on which item. */
export type ActionTarget =
  | { action: 'cancel'; item: AdminItem }
  | { action: 'revoke_grant'; item: AdminItem }
  | { action: 'verify_client'; item: AdminItem; verified: boolean }
  | { action: 'block' | 'unblock'; item: AdminItem; sub: string | null }
  | { action: 'revoke_device'; item: AdminItem };

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
      return { action: target.action, client_id: (target.item.item as AdminClient).client_id, sub: target.sub };
    case 'revoke_device':
      return { action: 'revoke_device', device_id: (target.item.item as AdminDevice).device_id };
  }
}

/** The confirmation of an action: its title, what will happen, and the button's words. */
export interface Confirmation {
  title: string;
  parts: TextPart[];
  confirm: string;
}

const AUDITED = ' This is recorded in the audit log.';

function clientName(item: AdminItem): TextPart[] {
  const c = item.item as AdminClient;
  return [part(item, '/client_name', c.client_name), ' (', part(item, '/client_id', c.client_id), ')'];
}

/** What `target` will do, in words, with every untrusted name marked. */
export function confirmation(target: ActionTarget): Confirmation {
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
          ': its access token stops working at once (it introspects inactive); later refresh tokens of it too.',
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
              { text: target.sub, characters: [] },
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
              { text: target.sub, characters: [] },
              ': it may ask them for approval again. Tokens revoked by the block stay revoked.',
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
      return changed ? ['Revoked the grant ', id, ': its access token no longer works.'] : ['Nothing to change: the grant ', id, ' was already revoked.'];
    }
    case 'verify_client': {
      const state = target.verified ? 'verified' : 'unverified';
      return changed
        ? ['Marked the client ', ...clientName(item), ` ${state}.`]
        : ['Nothing to change: the client ', ...clientName(item), ` was already ${state}.`];
    }
    case 'block':
    case 'unblock': {
      const whom: TextPart[] = target.sub === null ? [' for everyone'] : [' for user ', { text: target.sub, characters: [] }];
      if (target.action === 'block') {
        return changed
          ? ['Blocked the client ', ...clientName(item), ...whom, '.']
          : ['Nothing to change: the client ', ...clientName(item), ' was already blocked', ...whom, '.'];
      }
      return changed
        ? ['Unblocked the client ', ...clientName(item), ...whom, '.']
        : ['Nothing to change: the client ', ...clientName(item), ' was not blocked', ...whom, '.'];
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
