// The types of what crosses between the JavaScript layer and the wasm core
// (`ClientCore`, src/wasm/client): its methods, and the steps it returns.
// Each step's `t` names one kind, never shared by two meanings across unions.

import type { MeshError } from './errors.js';
import type { DeviceLogin, KeyNameCheck, Session, SessionEndReason, SessionInfo, ValidationResult } from './browser.js';

/** Where the session is kept, unless in memory: `global` names a Web Storage of `globalThis`, else the option is an adapter; `methods` are read, write, remove. */
/** `deadlineMs`: how long one adapter call may take (an adapter's only). */
export type StorageChoice = { global?: 'localStorage' | 'sessionStorage'; shared: boolean; methods: [string, string, string]; deadlineMs?: number };

/** The core ended the session: why, and the error waiting callers get. */
export type SessionEndedStep = { t: 'sessionEnded'; reason: SessionEndReason; error: MeshError };

/** `getToken`/`forceRefresh`: a usable token, or what to do for one. */
/** `header`: the API call's credential header, name and value. */
export type TokenReady = { t: 'ready'; token: string; header: [string, string]; generation: number; received?: number; expires?: number | null };
export type TokenStep =
  | TokenReady
  | { t: 'joinRefresh' }
  | { t: 'startRefresh' }
  | SessionEndedStep
  | { t: 'tokenError'; error: MeshError };

/** `beforeSend`: send the refresh, or another tab's stored tokens were adopted. */
export type SendStep = { t: 'sendRefresh'; refreshToken: string } | { t: 'adoptedStored' } | SessionEndedStep;

/** After one refresh attempt. */
export type RefreshStep =
  | { t: 'retryRefresh'; ms: number }
  | { t: 'refreshed' }
  | { t: 'refreshFailed'; error: MeshError; valid: boolean }
  | SessionEndedStep;

/** After one attempt of an API call. */
export type CallStep =
  | { t: 'respond' }
  | { t: 'refreshAndRetry'; stale: number }
  | { t: 'retryWithCurrent' }
  | { t: 'retryAfter'; ms: number }
  /** `event`: the event to emit before rejecting (a 401 after the refresh). */
  | { t: 'requestFailed'; error: MeshError; event?: 'unauthorized' };

/** The device login's poll loop. */
export type PollStep = { t: 'sendPoll' } | { t: 'pollAfter'; ms: number };
export type PollAnswer = { t: 'pollAfter'; ms: number } | { t: 'loggedIn'; session: Session };

/** An API call as the core records it between attempts. */
export interface CallRecord {
  method: string;
  path: string;
  started: number;
  sent: number;
  auth: number;
  transient: number;
  generation?: number;
  received?: number;
  expires?: number | null;
}

/** The failures the layer names for the core to turn into errors (src/client/failure.rs). */
export type FailureName =
  | 'disposed' | 'aborted' | 'timeout' | 'request' | 'storage' | 'storage_timeout' | 'storage_value' | 'storage_option'
  | 'storage_type' | 'storage_adapter' | 'storage_unavailable' | 'message' | 'key_name' | 'key_id'
  | 'no_device_endpoint' | 'api_key_mode' | 'no_token' | 'refresh_retries' | 'request_retries' | 'poll_limit'
  | 'foreign_origin' | 'method' | 'no_device_login'
  | 'signed_out' | 'lock_wait' | 'store_option' | 'redirect_load' | 'logout_store';

export interface Endpoints {
  token: string;
  device?: string;
  revocation?: string;
  authorization?: string;
  endSession?: string;
  jwks?: string;
  /** RFC 9207: the provider promises `iss` in every authorization response. */
  issRequired: boolean;
}

/** `redirectCallback`'s answer: write `remaining` back first, then throw `error` or exchange `grant`. */
export interface RedirectCallback {
  remaining: string | null;
  /** `form`: the code exchange's token request (client, code, redirect URI, PKCE verifier). */
  grant?: { form: [string, string][]; nonce: string; returnTo: string | null };
  error?: MeshError;
}

/** The ID token to verify with WebCrypto, as the core chose key and algorithm. */
export interface IdTokenCheck {
  idToken: string;
  alg: string;
  key: JsonWebKey;
  importParams: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams;
  verifyParams: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
  data: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

export interface Settings {
  issuer: string;
  /** The issuer's OpenID discovery document. */
  discoveryUrl: string;
  clientId: string | null;
  audience: string | null;
  scope: string | null;
  /** API-key mode's credential header, name and value. */
  apiKeyHeader: [string, string] | null;
  storageKey: string;
  /** Where `keys.*` calls go (the gateway's `MESH_KEYS_PATH`). */
  keysPath: string;
  /** The localStorage lease's key (src/client/lease.rs). */
  leaseKey: string;
  /** The sessionStorage key of a device login kept for a reload. */
  deviceLoginKey: string;
  /** The sessionStorage key of the pending redirect logins. */
  redirectLoginKey: string;
  apiKeyMode: boolean;
  timeoutMs: number;
  /** How long a tab waits for the cross-tab lock before refreshing without it. */
  lockWaitMs: number;
  /** How long a lock holder that stored new tokens keeps the lock. */
  storageSettleMs: number;
  /** How long a tab lets racing lease writes land before reading back who won. */
  leaseSettleMs: number;
  /** The most attempts of one API call (the core's request policy: a backstop on the layer's loop). */
  maxAttempts: number;
  /** The most polls of one device login (a backstop: the poller ends the loop at the code's expiry). */
  maxPolls: number;
}

/** The wasm-bindgen class over the sans-IO core. */
export interface ClientCore {
  settings(): Settings;
  free(): void;
  generation(): number;
  getToken(now: number): TokenStep;
  forceRefresh(stale: number, now: number): TokenStep;
  beforeSend(stored: string | undefined, now: number): SendStep;
  attemptTimeout(now: number): number;
  onTokenResponse(status: number, body: unknown, retryAfter: string | undefined, now: number, jitter: number): RefreshStep;
  onRefreshError(code: string | undefined, maybeSent: boolean, now: number, jitter: number): RefreshStep | { t: 'abandoned' };
  abandonRefresh(maybeSent: boolean): void;
  loadStored(generation: number, stored: string | undefined, failure: string | undefined): void;
  adoptStored(stored: string | undefined, now: number): boolean;
  storedRecord(): string | undefined;
  sessionInfo(): SessionInfo | null;
  clear(): string | undefined;
  /** Another tab ended the session; `reason` as its message gave it (the core keeps only a known one). */
  endedElsewhere(reason: unknown): SessionEndedStep | undefined;
  setSession(session: unknown): void;
  fromEnv(env: unknown): boolean;
  exportEnv(): Record<string, string> | null;
  resolveUrl(input: unknown): [string, string];
  decide(call: CallRecord, outcome: number | string | undefined, retryAfter: string | undefined, now: number, jitter: number): CallStep;
  httpError(call: CallRecord, status: number, now: number): MeshError;
  /** The device authorization request's form; throws `invalid_config` for a bad `extraParams`. */
  deviceForm(options: unknown): [string, string][];
  /** The device code grant's form (RFC 8628 §3.4). */
  devicePollForm(deviceCode: string): [string, string][];
  /** The refresh grant's form. */
  refreshForm(refreshToken: string): [string, string][];
  /** The revocation request's form (RFC 7009). */
  revocationForm(refreshToken: string): [string, string][];
  /** Whether the revocation endpoint's status says revoked. */
  revoked(status: number): boolean;
  deviceStarted(status: number, body: unknown, now: number): DeviceLogin;
  deviceBegin(login: unknown): [string, string];
  devicePoll(userCode: string, now: number): PollStep;
  deviceAnswer(userCode: string, status: number, body: unknown, retryAfter: string | undefined, now: number): PollAnswer;
  deviceNetworkError(userCode: string, code: string | undefined, now: number): { t: 'pollAfter'; ms: number } | { t: 'stopped' };
  deviceEnd(userCode: string, code: string | undefined): boolean;
  devicePending(userCode: string): string | undefined;
  devicePolled(userCode: string): string | undefined;
  deviceRestore(stored: string | undefined, now: number): DeviceLogin | undefined;
  deviceCancel(login: unknown): string | undefined;
  failure(name: FailureName, subject?: string, detail?: string): MeshError;
  networkFailure(what: string, detail: string, cause?: string, causeCode?: string): { error: MeshError; unsent: boolean };
  checkListener(name: unknown, handlerIsFunction: boolean): void;
  checkKeyName(name: unknown): KeyNameCheck | undefined;
  /** The keys API path of key `id` (its rotation's with `rotate`); throws `invalid_config` for an id that is not a non-empty string. */
  keyPath(id: unknown, rotate: boolean): string;
  /** Throws `invalid_config` for an option of `keys.create` (`keys.rotate` with `rotate`) the client does not read. */
  checkKeyOptions(options: unknown, rotate: boolean): void;
  /** The `storage` option read (`undefined`: memory); throws `invalid_config` for a bad one. */
  storageChoice(option: unknown): StorageChoice | undefined;
  discovered(status: number, body: unknown): Endpoints;
  redirectSession(body: unknown, idToken: string, now: number): Session;
  keepIdToken(idToken: string): SessionInfo;
  logoutUrl(endpoints: Endpoints, idToken: string | undefined, returnTo: string | undefined): string | undefined;
  idToken(): string | undefined;
  leaseRecord(owner: string, now: number): string;
  leaseOwner(value: string): string;
  leaseWaitMs(value: string | undefined, me: string, now: number, random: number): number;
  validateFailure(code: string, status?: number): 'invalid' | 'local' | 'rethrow';
  serverValidation(body: unknown): ValidationResult;
  localValidation(now: number): ValidationResult;
}

export type ClientCoreClass = new (options: unknown) => ClientCore;

/** The redirect login's rules (src/wasm/client/redirect.rs): a module of its own in the browser. */
export interface RedirectCore {
  redirectRandomBytes(): number;
  redirectVerifier(random: Uint8Array): string;
  redirectStart(options: unknown, endpoints: Endpoints, random: Uint8Array, digest: Uint8Array, stored: string | null, now: number): [string, string | null];
  redirectCallback(url: string, stored: string | null, endpoints: Endpoints, now: number): RedirectCallback;
  redirectTokens(status: number, body: unknown, jwks: unknown): IdTokenCheck;
  redirectFinish(idToken: string, verified: boolean, nonce: string, now: number): void;
  /** A device login's token response: the check of its ID token, or `undefined` without one. */
  deviceIdTokenCheck(body: unknown, jwks: unknown): IdTokenCheck | undefined;
  /** Throws `invalid_id_token` unless the signature verified and the claims hold (no nonce: the device grant sends none). */
  deviceIdToken(idToken: string, verified: boolean, now: number): void;
}

export type RedirectCoreClass = new (settings: Settings) => RedirectCore;
/** Loads the browser's redirect module once: its `RedirectCore` class. */
export type LoadRedirectCore = () => Promise<RedirectCoreClass>;

/** The server build's `ClientCore` (mesh-sdk/next): `auth()`'s session, without tokens; `null` when signed out. */
export interface ServerClientCore extends ClientCore {
  /** The redirect login's rules, in the same module (the browser loads them as a module of their own). */
  redirectCore(): RedirectCore;
  serverSession(now: number): SessionInfo | null;
}

export type ServerClientCoreClass = new (options: unknown) => ServerClientCore;

/** A cookie to set (`header` for a `Headers`, `options` for Next.js's `cookies().set`). */
export interface CookieWrite {
  name: string;
  value: string;
  header: string;
  options: { path: string; maxAge: number; httpOnly: boolean; sameSite: 'lax'; secure: boolean };
}

/** The opened session cookie. */
export interface SessionPayload {
  sid: string;
  createdAt: number;
  record: string | null;
  ttlMs: number;
  /** Unix seconds: the session ends then, refreshes or not. */
  expiresAt: number;
}

/** A Redis reply's value. */
export type RespValue = string | number | null | RespValue[];

export interface ServerSettings {
  /** The cookies' names as `baseUrl` has them: `__Host-mesh.session` when `Secure`, `mesh.session` on plain-HTTP loopback. */
  sessionCookie: string;
  loginCookie: string;
  /** The pending device login's cookie. */
  deviceCookie: string;
  /** The device routes' answers. */
  deviceStates: { pending: 'pending'; complete: 'complete'; cancelled: 'cancelled' };
  keyInfo: string;
  redirectUri: string;
  ivBytes: number;
  sessionIdBytes: number;
  maxCached: number;
  refusedStatus: number;
  redirectStatus: number;
  /** A handler that could not reach the provider. */
  failedStatus: number;
  /** On every answer mesh-sdk/next makes (`cache-control: no-store`). */
  answerHeaders: [string, string][];
  lockTtlMs: number;
  lockWaitMs: number;
  lockPollMs: number;
  redisDefaultPort: number;
  redisConnectTimeoutMs: number;
  redisCommandTimeoutMs: number;
  /** The waits before each new connection attempt after a failed one. */
  redisReconnectDelaysMs: number[];
  scripts: { acquire: string; write: string; remove: string; release: string };
}

export type RouteName = 'login' | 'callback' | 'logout' | 'device' | 'deviceStart' | 'devicePoll' | 'deviceCancel';

/** `bare`: the answer goes without a body and sets no cookie (a HEAD). */
export type DispatchStep = { t: 'serve'; route: RouteName; bare: boolean } | { t: 'refuse'; status: number; error: MeshError | null; allow?: string; bare: boolean };

export type GuardStep = { t: 'pass' } | { t: 'login'; status: number; url: string } | { t: 'unauthorized'; status: number; error: MeshError };

/** The wasm-bindgen class over `client::server_session`. */
export interface ServerRules {
  settings(): ServerSettings;
  /** What the layer runs with: `secret` and `prompt` (checked), `store` as given; `serverStore` when the session lives off the cookie; the store to make (`storeKind`, Redis's `redisUrl`). */
  options(): { secret: string; store: unknown; prompt: string | undefined; serverStore: boolean; storeKind: 'cookie' | 'memory' | 'redis' | 'custom'; redisUrl?: string };
  readCookie(header: string, name: string): string | undefined;
  unseal(value: string): [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>] | undefined;
  seal(iv: Uint8Array, ciphertext: Uint8Array): string;
  cookieWrites(name: string, sealed: string | null, header: string, createdAt: number | undefined, now: number): CookieWrite[];
  sessionId(random: Uint8Array): string;
  sessionPayload(sid: string, createdAt: number, record: string | undefined): string;
  openSession(plaintext: string, now: number): SessionPayload | null;
  sessionTtlMs(createdAt: number, now: number): number;
  redisKeys(sid: string): { session: string; lock: string; fence: string };
  dispatch(method: string, path: string, origin: string | undefined): DispatchStep;
  checkOrigin(method: string, origin: string | undefined): { t: 'refuse'; status: number; error: MeshError } | null;
  /** The error of `call()` without a request where `next/headers` did not load (`detail`: why). */
  outsideNext(call: 'auth' | 'getAccessToken' | 'fetchApi', detail: string): MeshError;
  failureStatus(code: string | undefined): number;
  apiFailureStatus(code: string | undefined): number;
  deviceEnd(code: string | undefined): { state: 'expired' | 'denied' | 'failed'; status: number };
  returnUrl(returnTo: string | undefined): string;
  guard(path: string, search: string, signedIn: boolean): GuardStep;
  /** Whether a `store.redis` URL's protocol asks for TLS; throws `invalid_config` for another scheme. */
  redisTls(protocol: string): boolean;
  redisFailure(name: 'closed' | 'unreachable' | 'timeout' | 'reply' | 'protocol', detail?: string): MeshError;
  /** An error reply (its line after `-`): the command's error, and whether the connection must be dropped. */
  redisErrorReply(reply: string): { error: MeshError; reconnect: boolean };
  /** The complete RESP replies at the start of `bytes`; `desync` quotes bytes that are not RESP. */
  redisReplies(bytes: Uint8Array): { used: number; replies: ({ value: RespValue } | { error: string })[]; desync?: string };
  /** The command as RESP, to write. */
  redisCommand(args: string[]): string;
}

/** Reads `createMeshAuth`'s own options from its whole options object. */
export type ServerRulesClass = new (options: unknown, timeoutMs: number) => ServerRules;
