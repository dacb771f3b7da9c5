// Words for everything the UI shows about states and times. Every state is said in
// words (never by colour alone), and unknown values from newer servers are named, not hidden.
import type {
  CharFinding,
  ConnectionState,
  Delivery,
  DenyReason,
  DisplayModel,
  KeyStoreKind,
  Requirement,
  RequestView,
  Severity,
} from './backend/types';
import { requestFindings } from './reveal';

/** Above this many seconds left, a countdown shows whole minutes (and changes once a minute). */
export const COUNTDOWN_SECONDS_BELOW = 600;

/**
 * A countdown's text for `seconds` left: whole minutes (rounded down, never more
 * time than there is) above ten minutes, `M:SS` below; and the number of
 * seconds left at which that text next changes (`undefined`: it no longer does).
 */
export function countdownStep(seconds: number): { text: string; spoken: string; nextAt: number | undefined } {
  const s = Math.max(0, Math.floor(seconds));
  if (s > COUNTDOWN_SECONDS_BELOW) {
    const minutes = Math.floor(s / 60);
    return {
      text: `${minutes} min`,
      spoken: `${minutes} minutes`,
      nextAt: Math.max(minutes * 60 - 1, COUNTDOWN_SECONDS_BELOW),
    };
  }
  return { text: formatCountdown(s), spoken: spokenDuration(s), nextAt: s > 0 ? s - 1 : undefined };
}

/** `4:05`, `1:02:03`; `0:00` once past. */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** Spoken form for screen readers: `4 minutes 5 seconds`. */
export function spokenDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts: string[] = [];
  if (h > 0) parts.push(`${h} ${h === 1 ? 'hour' : 'hours'}`);
  if (m > 0) parts.push(`${m} ${m === 1 ? 'minute' : 'minutes'}`);
  if (h === 0) parts.push(`${s % 60} ${s % 60 === 1 ? 'second' : 'seconds'}`);
  return parts.join(' ');
}

/** Local date and time of a Unix timestamp, with the UTC offset written out. */
export function formatTime(unixSeconds: number): string {
  const date = new Date(unixSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ` +
    `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** A map's own entry for `key` (never an inherited one such as `toString`). */
export function own<V>(map: Record<string, V>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

/**
 * The words for the values of one kind: a value's own entry in `words`, else what
 * `unknown` says of it (a value from a newer server is named, not hidden).
 */
function labels(words: Record<string, string>, unknown: (value: string) => string): (value: string) => string {
  return (value) => own(words, value) ?? unknown(value);
}

const WITHDRAWN: Record<string, string> = {
  expired: 'Expired before you decided',
  cancelled: 'Withdrawn by the agent',
  decided_elsewhere: 'Decided on another device',
  withdrawn: 'Withdrawn',
  conflict: 'Already decided differently on the server',
  rejected: 'Refused by the server',
};

/** Why a request left the inbox. */
export const withdrawnLabel = labels(WITHDRAWN, (reason) => `Withdrawn (${reason})`);

const DENY: Record<DenyReason, string> = {
  not_me: 'This wasn’t me',
  wrong_details: 'Wrong details',
  other: 'Other',
};

const denyLabel = labels(DENY, (reason) => reason);

export function denyReasonLabel(reason: string | null): string {
  return reason === null ? '' : denyLabel(reason);
}

const DELIVERY: Record<Delivery, string> = {
  queued: 'Waiting to be sent',
  delivered: 'Delivered',
  expired: 'Expired before delivery',
  conflict: 'Conflicts with an earlier decision',
  withdrawn: 'Withdrawn before delivery',
  rejected: 'Refused by the server',
};

export const deliveryLabel = labels(DELIVERY, (delivery) => delivery);

export function connectionLabel(state: ConnectionState | null): string {
  if (state === null) return 'Not connected yet';
  switch (state.state) {
    case 'connecting':
      return 'Connecting…';
    case 'push':
      return 'Connected (live)';
    case 'polling':
      return 'Connected (checking periodically)';
    case 'disconnected':
      return `Disconnected: ${state.error} (retrying in ${Math.max(1, Math.round(state.retry_in_ms / 1000))} s)`;
    default:
      return 'Unknown connection state';
  }
}

const SEVERITY: Record<Severity, string> = {
  danger: 'Danger',
  caution: 'Caution',
  info: 'Note',
};

export const severityLabel = labels(SEVERITY, (severity) => `Warning (${severity})`);

const KEY_STORE: Record<KeyStoreKind, string> = {
  keychain: 'OS keychain',
  file: 'Encrypted key file (no keychain available)',
  memory: 'In memory (test only)',
};

export const keyStoreLabel = labels(KEY_STORE, (kind) => kind);

const REQUIREMENT: Record<Requirement, string> = {
  user_verification: 'Confirm it is you (your computer asks, or your security key)',
  webauthn: 'Your security key (touch it, and its PIN if it asks)',
};

export const requirementLabel = labels(REQUIREMENT, (requirement) => `Unknown step “${requirement}” (cannot be approved here)`);

/**
 * The summary line of a request, detail by detail: each schema summary (else the detail's
 * title) exactly, with the characters the core marks in it. Shown joined by ` · `.
 */
export function summaryLines(view: RequestView): { text: string; characters: CharFinding[] }[] {
  // A scope-only request: what it asks for is its scopes (marks as the detail view shows them).
  if (view.access?.scope_only && view.display.details.length === 0) {
    return [
      { text: 'Access request', characters: [] },
      ...view.access.scopes.map((s) => ({ text: s.scope, characters: requestFindings(view.request_text, s.field) })),
    ];
  }
  const lines = view.display.details.map((d) =>
    d.summary
      ? { text: d.summary.text, characters: d.summary.characters ?? [] }
      : { text: d.title, characters: d.title_characters ?? [] },
  );
  return lines.length === 0 ? [{ text: 'No details', characters: [] }] : lines;
}

/** `3 warnings · Danger: lookalike letters`: how many warnings a request has and the worst kind. */
export function warningsLabel(display: DisplayModel): string | null {
  if (display.warning_count === 0) return null;
  const count = `${display.warning_count} ${display.warning_count === 1 ? 'warning' : 'warnings'}`;
  const worst = display.worst_warning;
  return worst ? `${count} · ${severityLabel(worst.severity)}: ${worst.text}` : count;
}

/** Key of a request across accounts. */
export function requestKey(accountId: string, requestId: string): string {
  return `${accountId}\u0000${requestId}`;
}
