import type { Backend } from './backend';
import { FakeAdmin, type FakeAdminOptions } from './fake-admin';
import type {
  AccountView,
  AdminAction,
  AdminActionResult,
  AdminList,
  AdminPageView,
  AppStatus,
  BackendError,
  Decision,
  DecisionClaims,
  DecisionOutcome,
  DenyReason,
  EnrolledUser,
  EnrollOutcome,
  EnrollPreview,
  ExportReport,
  HistoryView,
  PassphrasePurpose,
  PublicJwk,
  ReceiptCheck,
  RequestView,
  SettingsPatch,
  SecurityKeyPrompt,
  SecurityKeyView,
  SettingsView,
  UiEvent,
  UnverifiedBlock,
} from './types';

// JSON round trip rather than structuredClone, which Safari 15.0-15.3 lack. Everything here is JSON anyway.
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export interface FakeBackendOptions {
  status?: Partial<AppStatus>;
  accounts?: readonly AccountView[];
  history?: readonly HistoryView[];
  /** When set, every call rejects with this error until `succeed()` is called. */
  failWith?: BackendError;
  /** Unix seconds; defaults to the real clock. */
  now?: () => number;
  /** Initial settings. */
  settings?: Partial<SettingsView>;
  /** The user enrollment links name (default `FAKE_ENROLLED_USER`). */
  enrolledUser?: EnrolledUser;
  /** The encrypted key file's passphrase; unset: no key file yet (a passphrase is chosen). */
  keyFilePassphrase?: string;
  /** Per account id: whether unverified agents are blocked (default: not blocked). */
  unverifiedBlocks?: Record<string, UnverifiedBlock>;
  /**
   * A security key at hand (default: none, as the core without one: requests that require
   * `webauthn` cannot be approved). `pin`: the key asks for it, as a key with a PIN set.
   */
  securityKey?: { pin?: string };
  /** Per account id: its security keys at the server. */
  securityKeys?: Record<string, SecurityKeyView[]>;
  /**
   * What the operating system's prompt answers when an approval asks it to verify the user
   * (`user_verification.kind === 'os_prompt'` in the view; default: it verifies).
   */
  osVerification?: 'verified' | 'refused' | 'cancelled';
  /**
   * The organisation the admin API answers about (generated: `fake-admin.ts`). Accounts whose
   * user has the `admin` role may read and act on it; others get `forbidden`.
   */
  admin?: FakeAdminOptions;
}

/** What the fake says when it has no security key (the shell's `NO_SECURITY_KEY`). */
export const FAKE_NO_SECURITY_KEY =
  'this build of Countersign reaches no security key (they work on Linux, macOS and Windows)';

/** The core's words for a locked PIN (`AuthenticatorError::PinBlocked`). */
const FAKE_PIN_LOCKED =
  "the security key's PIN is locked after too many wrong tries: the key must be reset (which erases its credentials)";

/** Wrong PINs a key accepts before it locks (CTAP 2.1). */
const FAKE_PIN_RETRIES = 8;

/**
 * The fake's stand-in for the core's strength rule (the real one is zxcvbn in
 * `countersign-approver`, keys/passphrase.rs): at least 12 characters, and not one of a few
 * well-known weak ones. Only for component and browser tests.
 */
const FAKE_WEAK = ['password1234', 'aaaaaaaaaaaa', 'qwertyuiopasdf', '123456789012'];

/** The public key of every fake account (a P-256 point from RFC 7515 A.3). */
export const FAKE_PUBLIC_JWK: PublicJwk = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

/** The user every fake enrollment link names. */
export const FAKE_ENROLLED_USER = { sub: 'u_demo', name: 'Demo User', roles: ['user'] };

/** One recorded call: the method and its arguments (copies). */
export interface FakeCall {
  method: keyof Backend;
  args: unknown[];
}

/**
 * In-memory Backend for running the UI in a plain browser and for component and
 * browser tests. It hands out copies, so callers cannot change its state by mutating
 * results, and it records every call (`calls`) so tests can tell what the UI did.
 */
export class FakeBackend implements Backend {
  readonly calls: FakeCall[] = [];
  #views: RequestView[];
  #accounts: AccountView[];
  #history: HistoryView[];
  #status: AppStatus;
  #failure: BackendError | undefined;
  #listeners = new Set<(event: UiEvent) => void>();
  #now: () => number;
  #settings: SettingsView;
  #enrolledUser: EnrolledUser;
  #keyFilePassphrase: string | undefined;
  #blocks: Record<string, UnverifiedBlock>;
  #securityKey: { pin?: string; retries: number } | undefined;
  #securityKeys: Record<string, SecurityKeyView[]>;
  #osVerification: 'verified' | 'refused' | 'cancelled';
  /** The PIN request waiting for the window, and how to answer it. */
  #pinWaiting: { prompt: SecurityKeyPrompt; answer: (pin: string | null) => void } | undefined;
  #lastPinId = 0;
  #inCeremony = false;
  #admin: FakeAdmin;

  constructor(views: readonly RequestView[] = [], options: FakeBackendOptions = {}) {
    this.#views = copy([...views]);
    this.#accounts = copy([...(options.accounts ?? [])]);
    this.#history = copy([...(options.history ?? [])]);
    this.#status = {
      name: 'Countersign',
      version: '0.0.0-fake',
      key_store_warning: null,
      startup_error: null,
      passphrase_needed: null,
      security_key_pin: null,
      security_keys_unavailable: options.securityKey ? null : FAKE_NO_SECURITY_KEY,
      ...options.status,
    };
    this.#securityKey = options.securityKey ? { ...options.securityKey, retries: FAKE_PIN_RETRIES } : undefined;
    this.#securityKeys = copy(options.securityKeys ?? {});
    this.#osVerification = options.osVerification ?? 'verified';
    this.#keyFilePassphrase = options.keyFilePassphrase;
    this.#blocks = copy(options.unverifiedBlocks ?? {});
    this.#failure = options.failWith;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#enrolledUser = copy(options.enrolledUser ?? FAKE_ENROLLED_USER);
    this.#admin = new FakeAdmin(options.admin ?? {}, this.#now);
    this.#settings = {
      theme: 'system',
      notifications: true,
      quick_actions: true,
      start_at_login: false,
      notifications_paused_until: null,
      problems: [],
      ...copy(options.settings ?? {}),
    };
  }

  /** Makes every following call reject with `error`. */
  fail(error: BackendError): void {
    this.#failure = { ...error };
  }

  /** Undoes `fail`. */
  succeed(): void {
    this.#failure = undefined;
  }

  /** Replaces the pending requests (no event). */
  setViews(views: readonly RequestView[]): void {
    this.#views = copy([...views]);
  }

  /** A request arrives: stored, then announced like the approver does. */
  receive(view: RequestView): void {
    this.#views.push(copy(view));
    this.emit({ event: 'new_request', item: copy(view.item) });
  }

  /** The server withdrew a request (cancelled, expired, decided elsewhere). */
  withdraw(accountId: string, requestId: string, reason: string): void {
    this.#views = this.#views.filter((v) => !(v.item.account_id === accountId && v.item.request.id === requestId));
    this.emit({ event: 'withdrawn', account_id: accountId, request_id: requestId, reason });
  }

  /** Sends an event to every subscriber (a connection state is remembered first, as the shell does). */
  emit(event: UiEvent): void {
    if (event.event === 'connection') {
      this.#accounts = this.#accounts.map((a) => (a.id === event.account_id ? { ...a, connection: copy(event.state) } : a));
    }
    for (const listener of this.#listeners) listener(copy(event));
  }

  /** The key store starts waiting for the key file's passphrase, as the shell announces it. */
  requestPassphrase(): void {
    const purpose: PassphrasePurpose = this.#keyFilePassphrase === undefined ? 'create' : 'open';
    this.#status = { ...this.#status, passphrase_needed: purpose };
    this.emit({ event: 'passphrase_needed', purpose });
  }

  /** Number of active subscriptions. */
  get subscribers(): number {
    return this.#listeners.size;
  }

  async appStatus(): Promise<AppStatus> {
    this.#record('appStatus', []);
    return copy({ ...this.#status, security_key_pin: this.#pinWaiting?.prompt ?? null });
  }

  async subscribe(listener: (event: UiEvent) => void): Promise<() => void> {
    this.#record('subscribe', []);
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async firstScreenShown(): Promise<void> {
    this.#record('firstScreenShown', []);
  }

  async inboxViews(limit?: number): Promise<RequestView[]> {
    this.#record('inboxViews', limit === undefined ? [] : [limit]);
    const views = copy(this.#views);
    return views.sort((a, b) => b.item.request.created_at - a.item.request.created_at).slice(0, limit);
  }

  async requestView(accountId: string, requestId: string): Promise<RequestView> {
    this.#record('requestView', [accountId, requestId]);
    return copy(this.#find(accountId, requestId));
  }

  async approve(accountId: string, requestId: string, typedBindingMessage?: string): Promise<DecisionOutcome> {
    this.#record('approve', typedBindingMessage === undefined ? [accountId, requestId] : [accountId, requestId, typedBindingMessage]);
    const view = this.#find(accountId, requestId);
    const request = view.item.request;
    // The core's checks in its order (crates/approver/src/gate.rs); the fixture
    // ui/tests/agreement/approve.json holds the core's answers (agreement.test.ts).
    if (view.item.status !== 'pending') {
      throw {
        code: 'not_pending',
        message: `request "${request.id}" is not pending (status: ${view.item.status})`,
      } satisfies BackendError;
    }
    if (this.#now() >= request.expires_at) {
      throw { code: 'expired', message: `request "${request.id}" has expired` } satisfies BackendError;
    }
    // In the request's order, as the core (crates/approver/src/gate.rs, `requirements_met_with`).
    for (const r of request.requires) {
      if (r === 'user_verification') {
        if (view.user_verification.kind === 'unavailable') {
          throw { code: 'user_verification_unavailable', message: view.user_verification.reason } satisfies BackendError;
        }
      } else if (!(r === 'webauthn' && this.#securityKey !== undefined)) {
        throw {
          code: 'unsupported_requirement',
          message: `this approver cannot meet the request's requirement "${r}"`,
        } satisfies BackendError;
      }
    }
    if (!view.display.approvable) {
      throw {
        code: 'not_approvable',
        message: `request "${request.id}" cannot be approved: a detail does not match its display schema`,
      } satisfies BackendError;
    }
    // As the core does (crates/approver/src/confirm.rs): the view says whether the code is
    // needed; what was typed must equal it, Unicode white space around it aside (as Rust's
    // `str::trim`: not JavaScript's `trim`, which also drops U+FEFF and keeps U+0085).
    if (view.confirmation_required) {
      const typed = trimWhiteSpace(typedBindingMessage ?? '');
      if (typed === '') {
        throw (request.requires.includes('user_verification')
          ? {
              code: 'confirmation_required',
              message: 'this request requires user verification, which starts with confirming what you read: type its binding message to approve it',
            }
          : {
              code: 'risk_confirmation_required',
              message: `this request is ${request.risk} risk: type its binding message to approve it`,
            }) satisfies BackendError;
      }
      if (typed !== request.binding_message || request.binding_message === '') {
        throw {
          code: 'binding_message_mismatch',
          message: "the text typed is not the request's binding message: nothing was signed; check the code and type it again",
        } satisfies BackendError;
      }
    }
    if (view.user_verification.kind === 'os_prompt') {
      // The core's sentences (crates/approver/src/verify): nothing is signed without it.
      if (this.#osVerification === 'cancelled') {
        throw {
          code: 'user_verification_cancelled',
          message: 'user verification was cancelled; nothing was signed',
        } satisfies BackendError;
      }
      if (this.#osVerification === 'refused') {
        throw {
          code: 'user_verification_failed',
          message: 'the operating system did not verify you: authentication failed; nothing was signed',
        } satisfies BackendError;
      }
    }
    if (request.requires.includes('webauthn')) {
      const registered = this.#securityKeys[accountId] ?? [];
      const usable = registered.filter((k) => k.flagged_at === undefined);
      if (usable.length === 0) {
        // The core's sentences (crates/approver/src/webauthn/mod.rs, `assertion_options`).
        throw {
          code: 'invalid',
          message:
            registered.length === 0
              ? 'this request requires a security key, and none is registered for this account: add one, then approve'
              : 'this request requires a security key, and every key registered for this account is flagged as possibly cloned: remove them, add a key, then approve',
        } satisfies BackendError;
      }
      await this.#ceremony(`approve: ${request.binding_message}`);
      const used = usable[0];
      if (used) used.last_used_at = this.#now();
      // The user may have left the request while the key worked.
      if (!this.#views.includes(view)) {
        throw { code: 'unknown_request', message: `no request "${requestId}" in the inbox` } satisfies BackendError;
      }
    }
    return this.#decide(view, 'approve', null);
  }

  async deny(accountId: string, requestId: string, reason: DenyReason): Promise<DecisionOutcome> {
    this.#record('deny', [accountId, requestId, reason]);
    return this.#decide(this.#find(accountId, requestId), 'deny', reason);
  }

  async accounts(): Promise<AccountView[]> {
    this.#record('accounts', []);
    return copy(this.#accounts);
  }

  async enrollPreview(link: string): Promise<EnrollPreview> {
    this.#record('enrollPreview', [link]);
    return { ...parseLink(link), user: copy(this.#enrolledUser) };
  }

  async enroll(link: string, replaces?: string): Promise<EnrollOutcome> {
    this.#record('enroll', replaces === undefined ? [link] : [link, replaces]);
    const { issuer } = parseLink(link);
    const old = replaces === undefined ? undefined : this.#accounts.find((a) => a.id === replaces);
    if (replaces !== undefined && !old) {
      throw { code: 'unknown_account', message: `no account "${replaces}"` } satisfies BackendError;
    }
    const account: AccountView = {
      id: `acct_${this.#accounts.length + 1}`,
      issuer,
      device_endpoint: `${issuer}/device/v1`,
      device_id: `dev_${this.#accounts.length + 1}`,
      user: copy(this.#enrolledUser),
      poll_interval: 30,
      key_store: 'keychain',
      public_jwk: copy(FAKE_PUBLIC_JWK),
      last_event_id: null,
      created_at: this.#now(),
      connection: { state: 'connecting' },
      // The fake has no classifier (the UI keeps no table of its own): no findings.
      user_text: [],
    };
    this.#accounts.push(account);
    const { connection: _connection, user_text: _userText, ...plain } = account;
    const same = old !== undefined && old.issuer === issuer && old.user.sub === account.user.sub;
    if (same) this.#accounts = this.#accounts.filter((a) => a.id !== old.id);
    return {
      account: copy(plain),
      user_text: [],
      replaced: same,
      // The core's sentence (crates/approver/src/reenroll.rs, KeptBecause::OtherUser).
      kept_because:
        old && !same
          ? `the new link is for ${account.user.name} at ${issuer}, not ${old.user.name} at ${old.issuer}: both accounts are kept`
          : null,
      kept_because_characters: [],
    };
  }

  /** Fake QR decoding: the "image" is the link's UTF-8 text (no image decoder in the browser fake). */
  async decodeQrImage(image: Uint8Array): Promise<string> {
    this.#record('decodeQrImage', [image.length]);
    const text = new TextDecoder().decode(image).trim();
    if (!text.startsWith('countersign://')) {
      throw { code: 'invalid_qr_image', message: 'no QR code was found in the image' } satisfies BackendError;
    }
    return text;
  }

  async settings(): Promise<SettingsView> {
    this.#record('settings', []);
    return copy(this.#settings);
  }

  async updateSettings(patch: SettingsPatch): Promise<SettingsView> {
    this.#record('updateSettings', [patch]);
    const { notifications_paused: paused, ...rest } = patch;
    this.#settings = { ...this.#settings, ...rest };
    if (paused !== undefined) this.#settings.notifications_paused_until = paused ? this.#now() + 3600 : null;
    return copy(this.#settings);
  }

  async submitKeyPassphrase(passphrase: string): Promise<PassphrasePurpose> {
    this.#record('submitKeyPassphrase', [passphrase]);
    if (this.#keyFilePassphrase === undefined) {
      const chars = [...passphrase].length;
      if (chars < 12) {
        throw {
          code: 'weak_passphrase',
          message: `this passphrase is too weak to protect the device keys: use at least 12 characters (this one has ${chars})`,
        } satisfies BackendError;
      }
      if (FAKE_WEAK.includes(passphrase.toLowerCase())) {
        throw {
          code: 'weak_passphrase',
          message:
            'this passphrase is too weak to protect the device keys: it would be too easy to guess (This is a very common password). Several unrelated words make a strong passphrase.',
        } satisfies BackendError;
      }
      this.#keyFilePassphrase = passphrase;
      this.#status = { ...this.#status, passphrase_needed: null };
      return 'create';
    }
    if (passphrase !== this.#keyFilePassphrase) {
      throw {
        code: 'wrong_passphrase',
        message: 'the passphrase does not open the encrypted key file (or the file was altered)',
      } satisfies BackendError;
    }
    this.#status = { ...this.#status, passphrase_needed: null };
    return 'open';
  }

  async cancelKeyPassphrase(): Promise<void> {
    this.#record('cancelKeyPassphrase', []);
    this.#status = { ...this.#status, passphrase_needed: null };
  }

  async unverifiedBlock(accountId: string): Promise<UnverifiedBlock> {
    this.#record('unverifiedBlock', [accountId]);
    this.#account(accountId);
    return copy(this.#blocks[accountId] ?? { blocked: false });
  }

  async liftUnverifiedBlock(accountId: string): Promise<UnverifiedBlock> {
    this.#record('liftUnverifiedBlock', [accountId]);
    this.#account(accountId);
    this.#blocks[accountId] = { blocked: false };
    return { blocked: false };
  }

  async securityKeys(accountId: string): Promise<SecurityKeyView[]> {
    this.#record('securityKeys', [accountId]);
    this.#account(accountId);
    return copy(this.#securityKeys[accountId] ?? []);
  }

  async addSecurityKey(accountId: string, name: string): Promise<SecurityKeyView[]> {
    this.#record('addSecurityKey', [accountId, name]);
    // The core's order: the shell's key, the name (countersign-protocol `check_credential_name`),
    // then the account.
    if (this.#securityKey === undefined) {
      throw { code: 'security_key', message: FAKE_NO_SECURITY_KEY } satisfies BackendError;
    }
    const refused = credentialNameError(name);
    if (refused !== null) {
      throw { code: 'invalid', message: `security key name refused: ${refused}` } satisfies BackendError;
    }
    this.#account(accountId);
    await this.#ceremony(`add it as "${name}"`);
    const keys = (this.#securityKeys[accountId] ??= []);
    keys.push({ credential_id: `cred_${keys.length + 1}`, name, created_at: this.#now(), name_characters: [] });
    return copy(keys);
  }

  async removeSecurityKey(accountId: string, credentialId: string): Promise<SecurityKeyView[]> {
    this.#record('removeSecurityKey', [accountId, credentialId]);
    this.#account(accountId);
    const keys = this.#securityKeys[accountId] ?? [];
    if (!keys.some((k) => k.credential_id === credentialId)) {
      throw { code: 'server_refused', message: 'the server refused: invalid_credential: no such security key' } satisfies BackendError;
    }
    this.#securityKeys[accountId] = keys.filter((k) => k.credential_id !== credentialId);
    return copy(this.#securityKeys[accountId]);
  }

  async submitSecurityKeyPin(pinId: number, pin: string): Promise<void> {
    this.#record('submitSecurityKeyPin', [pinId, '(PIN)']);
    this.#answerPin(pinId, pin);
  }

  async cancelSecurityKeyPin(pinId: number): Promise<void> {
    this.#record('cancelSecurityKeyPin', [pinId]);
    this.#answerPin(pinId, null);
  }

  async adminPage(accountId: string, list: AdminList, query: [string, string][]): Promise<AdminPageView> {
    this.#record('adminPage', [accountId, list, query]);
    this.#adminAccount(accountId);
    return this.#admin.page(list, query);
  }

  async adminAction(accountId: string, action: AdminAction): Promise<AdminActionResult> {
    this.#record('adminAction', [accountId, action]);
    this.#adminAccount(accountId);
    return this.#admin.act(action);
  }

  /** The account, if its user is an administrator (the server checks the role on every call). */
  #adminAccount(accountId: string): void {
    const account = this.#account(accountId);
    if (!account.user.roles.includes('admin')) {
      throw {
        code: 'server_refused',
        message: 'the server refused (403 forbidden): the administrator role is required',
      } satisfies BackendError;
    }
  }

  #answerPin(pinId: number, pin: string | null): void {
    if (pin === '') throw { code: 'invalid', message: 'the PIN is empty' } satisfies BackendError;
    const waiting = this.#pinWaiting;
    if (waiting?.prompt.pin_id !== pinId) {
      throw { code: 'not_waiting', message: 'no security key operation is waiting for this PIN any more' } satisfies BackendError;
    }
    this.#pinWaiting = undefined;
    waiting.answer(pin);
  }

  /** The key's side of a ceremony, as the core's prompts announce it: the PIN (if set), then the touch. */
  async #ceremony(action: string): Promise<void> {
    const key = this.#securityKey;
    if (key === undefined) throw { code: 'security_key', message: FAKE_NO_SECURITY_KEY } satisfies BackendError;
    // One ceremony at a time, as the core's `SharedAuthenticator`.
    if (this.#inCeremony) {
      throw {
        code: 'security_key',
        message: 'the security key is busy with another operation: finish or cancel it first',
      } satisfies BackendError;
    }
    this.#inCeremony = true;
    try {
      await this.#keySteps(key, action);
    } finally {
      this.#inCeremony = false;
    }
  }

  async #keySteps(key: { pin?: string; retries: number }, action: string): Promise<void> {
    if (key.pin !== undefined) {
      if (key.retries === 0) throw { code: 'security_key', message: FAKE_PIN_LOCKED } satisfies BackendError;
      this.#lastPinId += 1;
      const id = this.#lastPinId;
      const left = key.retries;
      const tries = left === 1 ? ' (last try: one more wrong PIN locks the key)' : ` (${left} tries left)`;
      const prompt: SecurityKeyPrompt = {
        step: 'pin',
        text: `Enter your security key's PIN to ${action}${tries}`,
        characters: [],
        pin_id: id,
        retries_left: left,
      };
      const answer = new Promise<string | null>((resolve) => {
        this.#pinWaiting = { prompt, answer: resolve };
      });
      this.emit({ event: 'security_key', prompt });
      const pin = await answer;
      if (pin === null) throw { code: 'security_key', message: 'the security key operation was cancelled' } satisfies BackendError;
      if (pin !== key.pin) {
        key.retries -= 1;
        if (key.retries === 0) throw { code: 'security_key', message: FAKE_PIN_LOCKED } satisfies BackendError;
        const rest = key.retries === 1 ? ' (last try: one more wrong PIN locks the key)' : ` (${key.retries} tries left)`;
        throw { code: 'security_key', message: `wrong PIN${rest}` } satisfies BackendError;
      }
      key.retries = FAKE_PIN_RETRIES;
    }
    this.emit({
      event: 'security_key',
      prompt: { step: 'touch', text: `Touch your security key to ${action}`, characters: [], pin_id: null, retries_left: null },
    });
  }

  #account(accountId: string): AccountView {
    const account = this.#accounts.find((a) => a.id === accountId);
    if (!account) throw { code: 'unknown_account', message: `no account "${accountId}"` } satisfies BackendError;
    return account;
  }

  async removeAccount(accountId: string): Promise<void> {
    this.#record('removeAccount', [accountId]);
    const before = this.#accounts.length;
    this.#accounts = this.#accounts.filter((a) => a.id !== accountId);
    if (this.#accounts.length === before) {
      throw { code: 'unknown_account', message: `no account "${accountId}"` } satisfies BackendError;
    }
  }

  async history(): Promise<HistoryView[]> {
    this.#record('history', []);
    return copy(this.#history);
  }

  async verifyReceipt(accountId: string, requestId: string): Promise<ReceiptCheck> {
    this.#record('verifyReceipt', [accountId, requestId]);
    const entry = this.#history.find((h) => h.account_id === accountId && h.request_id === requestId);
    if (!entry) throw { code: 'no_receipt', message: `no decision recorded for request "${requestId}"` } satisfies BackendError;
    const valid = entry.decision_jws !== 'tampered';
    const account = this.#accounts.find((a) => a.id === accountId);
    const claims: DecisionClaims = {
      iss: account?.device_id ?? 'dev_unknown',
      aud: account?.issuer ?? 'https://auth.example.test',
      iat: entry.decided_at,
      exp: entry.decided_at + 120,
      jti: `jti_${entry.id}`,
      request_id: entry.request_id,
      decision: entry.decision,
      ...(entry.deny_reason === null ? {} : { deny_reason: entry.deny_reason as DenyReason }),
      statement_hash: entry.statement_hash,
    };
    return {
      account_id: accountId,
      request_id: requestId,
      signature_valid: valid,
      statement_hash_valid: true,
      request_matches: true,
      decision_matches: true,
      claims: valid ? claims : null,
      problems: valid ? [] : ['the signature does not verify with the enrolled key'],
    };
  }

  async exportHistory(): Promise<ExportReport> {
    this.#record('exportHistory', []);
    return { path: `/home/user/Downloads/countersign-history-${this.#now()}.json`, decisions: this.#history.length };
  }

  #decide(view: RequestView, decision: Decision, reason: DenyReason | null): DecisionOutcome {
    const request = view.item.request;
    this.#views = this.#views.filter((v) => v !== view);
    const history: HistoryView = {
      id: this.#history.length + 1,
      account_id: view.item.account_id,
      request_id: request.id,
      decision,
      deny_reason: reason,
      statement_jcs: '{}',
      statement_hash: 'fake-hash',
      decision_jws: 'fake.jws.sig',
      decided_at: this.#now(),
      delivery: 'delivered',
      server_status: 200,
      server_answer: '{"status":"ok"}',
      delivered_at: this.#now(),
      request: copy(request),
      request_text: copy(view.request_text ?? []),
    };
    this.#history.unshift(history);
    this.emit({
      event: 'decided',
      account_id: view.item.account_id,
      request_id: request.id,
      decision,
      delivery: 'delivered',
      detail: null,
    });
    const { request: _request, ...entry } = history;
    // What the server answers a recorded decision (countersign-protocol `DecisionResult`).
    const result = { request_id: request.id, status: decision === 'approve' ? 'approved' : 'denied', decided_at: this.#now() } as const;
    return { history: copy(entry), delivery: { outcome: 'delivered', result } };
  }

  #find(accountId: string, requestId: string): RequestView {
    const view = this.#views.find((v) => v.item.account_id === accountId && v.item.request.id === requestId);
    if (!view) throw { code: 'unknown_request', message: `no request "${requestId}" in the inbox` } satisfies BackendError;
    return view;
  }

  #record(method: keyof Backend, args: unknown[]): void {
    this.calls.push({ method, args: copy(args) });
    if (this.#failure) {
      throw { ...this.#failure } satisfies BackendError;
    }
  }
}

/**
 * Why the core refuses a security key's name (countersign-protocol `CredentialNameError`), or
 * null. Hidden characters are approximated by Unicode's control, format and separator classes
 * (the fake has no classifier of its own).
 */
function credentialNameError(name: string): string | null {
  if (trimWhiteSpace(name) === '') return 'the name is empty';
  if ([...name].length > 64) return 'the name is longer than 64 characters';
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) return 'the name holds a control, bidi or invisible character';
  return null;
}

/** Unicode White_Space trimmed from both ends, as Rust's `str::trim`. */
function trimWhiteSpace(text: string): string {
  return text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

function parseLink(link: string): EnrollPreview {
  const invalid = { code: 'invalid_enrollment_link', message: 'enrollment URI refused: not a Countersign enrollment link' };
  let url: URL;
  try {
    url = new URL(link.trim());
  } catch {
    throw invalid satisfies BackendError;
  }
  const issuer = url.searchParams.get('issuer');
  if (url.protocol !== 'countersign:' || !issuer || !url.searchParams.get('ticket')) throw invalid satisfies BackendError;
  return {
    issuer,
    plain_http: issuer.startsWith('http://'),
    user: copy(FAKE_ENROLLED_USER),
    expires_at: Math.floor(Date.now() / 1000) + 600,
    user_findings: [],
  };
}
