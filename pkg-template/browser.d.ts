// Type definitions of mesh-sdk's client, as the browser entry exports it (no
// gateway: see index.d.ts). The JavaScript layer (client.js and its modules)
// is type-checked against these by `tsc -p pkg-template/jsconfig.json`.

// ---------------------------------------------------------------------------
// Errors

/**
 * The stable, machine-readable `code` of every error mesh-sdk throws or
 * rejects with. New codes may be added in minor versions.
 */
export type MeshErrorCode =
  /** An option is missing or wrong; the message names it. */
  | 'invalid_config'
  /** The request could not reach the server (DNS, refused, reset). */
  | 'network'
  /** The request took longer than `timeoutMs`. */
  | 'timeout'
  /** The caller's `AbortSignal` fired. */
  | 'aborted'
  /** The server rejected the credential (401, or 404 with `treat404AsUnauthorized`). */
  | 'unauthorized'
  /** The server refused the authenticated caller (403). */
  | 'forbidden'
  /** A refresh failed for a reason that may pass (5xx, 429, network). The session goes on. */
  | 'refresh_failed'
  /** The session is over (`invalid_grant`, logout in another tab): log in again. */
  | 'session_ended'
  /** There is no session: log in first. */
  | 'not_logged_in'
  /** The device code expired before the user approved it. */
  | 'device_code_expired'
  /** The user denied the device login or the redirect login. */
  | 'access_denied'
  /** The server answered with an error status not covered above. */
  | 'http_error'
  /** The server answered something the protocol does not allow. */
  | 'invalid_response'
  /** Stored session data is corrupt or foreign, or the storage failed. */
  | 'storage'
  /** The wasm was used before it was initialised (the `mesh-sdk/slim` entry). */
  | 'not_initialized'
  /** The client was disposed. */
  | 'disposed'
  /** A redirect callback's `state` is missing, unknown, expired or already used. */
  | 'state_mismatch'
  /** A redirect callback's `iss` is not the client's issuer (RFC 9207, mix-up). */
  | 'issuer_mismatch'
  /** The provider needs the user to sign in or interact (`login_required`, `consent_required`, ...). */
  | 'login_required'
  /** The provider answered the authorization request with another error. */
  | 'authorization_failed'
  /** The ID token failed a check of OpenID Connect Core 3.1.3.7. */
  | 'invalid_id_token'
  /** mesh-sdk/next: a request used a method its route does not answer (405, with `Allow`). */
  | 'method_not_allowed';

/** Where a failed API call went, for debugging. Never holds a token. */
export interface MeshErrorContext {
  readonly method: string;
  readonly path: string;
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  /** Seconds since the access token used was received. */
  readonly tokenAgeSeconds?: number;
  /** Seconds the access token used had left when the request was sent. */
  readonly tokenRemainingSeconds?: number;
  /** The OAuth `error` from the server's body, e.g. `"invalid_grant"`. */
  readonly oauthError?: string;
}

/**
 * Every error mesh-sdk throws: a `MeshError`, the same class from every
 * entry, with a stable `code`, a human message (never a token) and an
 * optional `cause`. `e instanceof MeshError` works; {@link isMeshError}
 * also accepts one from another copy of the package.
 */
export class MeshError extends Error {
  constructor(code: MeshErrorCode, message: string, context?: MeshErrorContext, cause?: unknown);
  readonly name: 'MeshError';
  readonly code: MeshErrorCode;
  /** HTTP status, when the error came from a response. */
  readonly status?: number;
  readonly context?: MeshErrorContext;
  readonly cause?: MeshError | unknown;
}

/** True when `value` is a {@link MeshError}. */
export function isMeshError(value: unknown): value is MeshError;

// ---------------------------------------------------------------------------
// Client options

/**
 * Where the session (access token, refresh token, expiry) is kept. A custom
 * store may be synchronous or asynchronous; it stores opaque strings.
 */
export interface MeshStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/**
 * `'memory'` (the default) keeps the session in this client only;
 * `'localStorage'` and `'sessionStorage'` use the browser's web storage
 * (shared between tabs); an object is a custom {@link MeshStorage}.
 * Where the runtime has no web storage at all (server rendering), the client
 * is still built: its first read fails with code `storage` instead.
 */
export type MeshStorageOption = 'memory' | 'localStorage' | 'sessionStorage' | MeshStorage;

/** Options shared by both modes. */
export interface MeshCommonOptions {
  /**
   * Base URL of the API, or of the mesh gateway in front of it. Relative
   * paths given to `fetch`, `keys.*`, `chat` and `validate` resolve against it.
   * Required in API-key mode.
   */
  apiUrl?: string;
  /**
   * Where the gateway serves the keys API (its `MESH_KEYS_PATH`), on
   * `apiUrl`'s origin.
   * @default '/api/v1/keys'
   */
  keysPath?: string;
  /**
   * Upper bound, in milliseconds, of every request the client makes (token,
   * discovery, API) and of each call to a storage adapter (one that never
   * settles fails as `storage`). Each call also takes its own `AbortSignal`. A whole
   * number from 1 to 600000, like every numeric option: a fraction is refused
   * as `invalid_config`, naming the option.
   * @default 60000
   */
  timeoutMs?: number;
  /**
   * Some servers answer 404 instead of 401 when authentication fails. When
   * true, a 404 on an authenticated call is treated as a possible auth
   * failure: the client refreshes once and retries once.
   * @default false
   */
  treat404AsUnauthorized?: boolean;
  /**
   * Retries of an idempotent API call (GET, HEAD, OPTIONS, PUT, DELETE) on
   * network errors and 502/503/504; never on 500 (0-10).
   * @default 2
   */
  maxRequestRetries?: number;
}

/** OAuth mode: a user session from the OIDC provider, refreshed proactively. */
export interface MeshOAuthOptions extends MeshCommonOptions {
  /** OIDC issuer URL; endpoints come from its discovery document. */
  issuer: string;
  /** The OAuth client id registered with the provider. */
  clientId: string;
  /** API audience, sent where the provider wants it (Auth0 does). */
  audience?: string;
  /** Space-separated scopes. Include `offline_access` to get a refresh token. Default: `'openid offline_access'`. */
  scope?: string;
  /** Where the session is kept. @default 'memory' */
  storage?: MeshStorageOption;
  /**
   * Refresh proactively when less than this many seconds of the access token
   * remain. Never more than half the token's lifetime, so a short-lived token
   * is not refreshed on every call.
   * @default 60
   */
  refreshLeewaySeconds?: number;
  /**
   * Retries of one refresh on network errors, 5xx and 429, with exponential
   * backoff and jitter, honouring `Retry-After` (0-10).
   * @default 3
   */
  maxRefreshRetries?: number;
  /**
   * After a failed refresh, callers get the still-valid token (or the
   * failure) without a new request for this long; it doubles per failure, up
   * to 60 s.
   * @default 10000
   */
  refreshCooldownMs?: number;
  /**
   * The key under which the session is stored. Default: derived from
   * `issuer` and `clientId`, so two apps on one origin do not collide.
   */
  storageKey?: string;
  apiKey?: never;
}

/**
 * API-key mode: every call sends `X-API-Key`; no OAuth state is loaded or
 * refreshed.
 */
export interface MeshApiKeyOptions extends MeshCommonOptions {
  apiUrl: string;
  /** The key, e.g. `mesh_sk_...`. */
  apiKey: string;
  issuer?: never;
  clientId?: never;
  storage?: never;
  refreshLeewaySeconds?: never;
  maxRefreshRetries?: never;
  refreshCooldownMs?: never;
  storageKey?: never;
}

export type MeshClientOptions = MeshOAuthOptions | MeshApiKeyOptions;

// ---------------------------------------------------------------------------
// Client results

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call; it then rejects with code `aborted`. */
  signal?: AbortSignal;
}

/** `startDeviceLogin`'s options. */
export interface DeviceLoginOptions extends CallOptions {
  /**
   * Provider-specific device authorization request parameters (names of
   * letters, digits, `_`, `-`, `.`); one the login sets itself (`client_id`,
   * `scope`, `audience`, `resource`, …) is refused with `invalid_config`.
   */
  extraParams?: Record<string, string>;
}

/** A started device login (RFC 8628). Show `userCode` and `verificationUri`. */
export interface DeviceLogin {
  /** The code the user types on the verification page. */
  readonly userCode: string;
  /** The page where the user enters the code. */
  readonly verificationUri: string;
  /**
   * The same page with the code filled in (for a link or QR code); the
   * provider's `verification_uri` when it gives no `verification_uri_complete`
   * (then show `userCode` beside it: the link does not carry the code).
   */
  readonly verificationUriComplete: string;
  /** Seconds until the device code expires. */
  readonly expiresIn: number;
  /** Minimum seconds between polls. */
  readonly interval: number;
  /** When the device code expires, in Unix seconds. */
  readonly expiresAt: number;
}

/** The session as the app sees it: no tokens. */
export interface SessionInfo {
  /** The access token's `sub`, when it is a JWT. */
  readonly userId: string | null;
  /** When the access token expires, in Unix seconds (as `MESH_TOKEN_EXPIRES_AT`). */
  readonly expiresAt: number | null;
  /** When this client received the access token, in Unix seconds. */
  readonly receivedAt: number;
  readonly hasRefreshToken: boolean;
  /** After a redirect login: who signed in (the ID token's claims). */
  readonly user?: User;
}

/** Who signed in, from the verified ID token of a redirect login. */
export interface User {
  readonly sub: string;
  readonly name?: string;
  readonly email?: string;
  readonly picture?: string;
}

/** `authorizeUrl`'s options. */
export interface AuthorizeOptions {
  /** Where the provider sends the browser back; registered with the provider. */
  redirectUri: string;
  /** Default: the client's `scope`; `openid` is always asked for. */
  scope?: string;
  /** `none`, `login`, `consent` or `select_account`. */
  prompt?: string;
  loginHint?: string;
  /** A same-origin path to go to after the callback; anything else is dropped. */
  returnTo?: string;
  /**
   * Provider-specific authorization request parameters (names of letters,
   * digits, `_`, `-`, `.`); a parameter the login sets itself (`state`,
   * `redirect_uri`, `scope`, `prompt`, …) is refused with `invalid_config`.
   */
  extraParams?: Record<string, string>;
}

/** What `handleRedirectCallback` resolves with. */
export interface RedirectSession extends Session {
  /** The `returnTo` given to `authorizeUrl` when it was a same-origin path, else `null`. */
  readonly returnTo: string | null;
}

export interface LogoutOptions {
  /** `post_logout_redirect_uri`: registered with the provider. */
  returnTo?: string;
}

export interface LogoutResult {
  /** Whether the provider confirmed the refresh token's revocation. */
  readonly revoked: boolean;
  /** The provider's logout URL, or `null` when it has none. */
  readonly logoutUrl: string | null;
}

/** What a completed device login resolves with: the session and its tokens (for a terminal or a file). */
export interface Session extends SessionInfo {
  readonly accessToken: string;
  /** `null` when the provider issued none (ask for `offline_access`). */
  readonly refreshToken: string | null;
}

/** The input of `setSession`: these fields only (another, such as a token response's `expires_in`, is refused as `invalid_config`). */
export interface SessionInput {
  accessToken: string;
  refreshToken?: string;
  /** Unix seconds, a whole number. Default: the JWT's `exp`, when the access token is a JWT and its `exp` is in seconds (otherwise unknown: the token is used until a 401 refreshes it). */
  expiresAt?: number;
}

/** The `MESH_*` variables of a session, as `exportEnv` returns and `fromEnv` reads them. */
export interface MeshEnv {
  MESH_ACCESS_TOKEN: string;
  MESH_REFRESH_TOKEN?: string;
  /** Unix seconds, as a decimal string; absent when the expiry is unknown. */
  MESH_TOKEN_EXPIRES_AT?: string;
}

/**
 * The result of `validate()`: the server's answer from `/auth/validate`, or,
 * when that route is missing (404) or unreachable, the local session.
 */
export interface ValidationResult {
  readonly valid: boolean;
  readonly source: 'server' | 'local';
  /** The token's subject, when known. */
  readonly userId?: string | null;
  /** Unix seconds, when known. */
  readonly expiresAt?: number | null;
  /** Why the server said no (`valid: false` from a 401). */
  readonly error?: MeshError;
}

/** An API key as listed: never the key itself. */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  /** The key's prefix, e.g. `mesh_sk_`. */
  readonly prefix: string;
  /** The key's last four characters. */
  readonly last4: string;
  /** When it was created, as an ISO 8601 string. */
  readonly createdAt: string;
  /** The scopes a route's `scopes` may require of it; none for keys made before scopes existed. */
  readonly scopes: readonly string[];
  /** When it stops working (ISO 8601, UTC), or `null` for never. A rotated key's is the end of its grace. */
  readonly expiresAt: string | null;
  /** When it was last used (ISO 8601, UTC; written at most once a minute), or `null`. */
  readonly lastUsedAt: string | null;
  /** Requests per minute it may make (per gateway isolate), or `null` for no limit. */
  readonly rateLimit: number | null;
}

/** A key just created (or rotated in): the only time its plaintext `key` is shown. */
export interface CreatedApiKey extends ApiKey {
  readonly key: string;
}

/** Options of `client.keys.create`. The gateway checks them (400, or 403 for scopes); another name (a misspelt `expiresAt`) is refused as `invalid_config` before any request. */
export interface CreateApiKeyOptions {
  /** Scope tokens, each one the signed-in user's token holds (`scope`/`scp`); asking for more fails with `forbidden` (403). */
  scopes?: readonly string[];
  /** When the key stops working: a future time, as a `Date`, an ISO 8601 UTC string or Unix seconds. */
  expiresAt?: Date | string | number;
  /** Requests per minute, 1-100000; past it the key gets 429 with `Retry-After`. */
  rateLimit?: number;
}

/** Options of `client.keys.rotate`; another name is refused as `invalid_config` before any request. */
export interface RotateApiKeyOptions {
  /** How long the old key keeps working, 0-86400 seconds. Default: 0 (it stops at once). */
  gracePeriodSeconds?: number;
}

/** Why an API key's name would be refused (the gateway's rule, in the core). */
export interface KeyNameCheck {
  /** `empty` (after trimming; also for a value that is not a string), `too_long`, `control_character`. */
  problem: 'empty' | 'too_long' | 'control_character';
  /** The trimmed name's length in characters (Unicode code points, not UTF-16 units). */
  length: number;
  /** The most characters a name may have. */
  max: number;
  /** The API's wording of the problem. */
  message: string;
}

/** `client.keys`: the API keys of the signed-in user (`/api/v1/keys`). */
export interface MeshKeys {
  list(): Promise<ApiKey[]>;
  /** `name`: 1-100 characters after trimming, none a control character (see `checkName`). */
  create(name: string, options?: CreateApiKeyOptions): Promise<CreatedApiKey>;
  /**
   * Why the gateway would refuse `name`, or `null` when it would accept it,
   * by the gateway's own rule (characters are code points: an emoji is one).
   * Offline; for forms.
   */
  checkName(name: string): KeyNameCheck | null;
  revoke(id: string): Promise<void>;
  /**
   * A replacement with the same name, scopes, rate limit and expiry (its
   * plaintext shown once); the old key stops after the grace period.
   * Another user's key, like a missing one, fails with `http_error` (status 404).
   */
  rotate(id: string, options?: RotateApiKeyOptions): Promise<CreatedApiKey>;
}

// ---------------------------------------------------------------------------
// Client events

/** Why the session ended. */
export type SessionEndReason =
  /** `logout()` was called (here or in another tab). */
  | 'logout'
  /** The provider refused the refresh token. */
  | 'invalid_grant'
  /** The access token expired and could not be refreshed. */
  | 'expired'
  /** Another tab ended the session and did not say why. */
  | 'ended_elsewhere';

/** Events and their payloads. */
export interface MeshClientEvents {
  /** New tokens arrived (a refresh here or in another tab, or a login). */
  refreshed: SessionInfo;
  /** A refresh failed for a reason that may pass; the session goes on. */
  refreshFailed: { readonly error: MeshError };
  /** The session ended; storage is cleared. */
  sessionEnded: { readonly reason: SessionEndReason; readonly error?: MeshError };
  /** An API call was still rejected after the one refresh-and-retry. `error.context` says which. */
  unauthorized: { readonly error: MeshError };
}

export type MeshClientEvent = keyof MeshClientEvents;

// ---------------------------------------------------------------------------
// The client

export class MeshClient {
  /**
   * Checks the options at once: a missing or wrong option throws a
   * {@link MeshError} with code `invalid_config` naming it.
   */
  constructor(options: MeshClientOptions);

  /**
   * A client whose session comes from `MESH_ACCESS_TOKEN`,
   * `MESH_REFRESH_TOKEN` and `MESH_TOKEN_EXPIRES_AT` (e.g. `process.env`).
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>>, options: MeshOAuthOptions): MeshClient;

  /** Starts a device login: show the user the code and the link. OAuth mode only. */
  startDeviceLogin(options?: DeviceLoginOptions): Promise<DeviceLogin>;
  /**
   * Polls the token endpoint per RFC 8628 until the user approves, denies
   * (`access_denied`) or the code expires (`device_code_expired`).
   */
  completeDeviceLogin(login: DeviceLogin, options?: CallOptions): Promise<Session>;
  /**
   * The device login this tab started before a reload, to show and complete
   * again (`completeDeviceLogin`), or `null`. Kept in the tab's
   * `sessionStorage` when the client's `storage` is `'localStorage'` or
   * `'sessionStorage'`, until the login completes, fails, expires or is
   * cancelled; an aborted `completeDeviceLogin` keeps it.
   */
  pendingDeviceLogin(): DeviceLogin | null;
  /**
   * Ends a device login in this client and forgets it for reloads. RFC 8628
   * has no way to withdraw a code at the provider: there it expires unused.
   * Abort a running `completeDeviceLogin` with its signal.
   */
  cancelDeviceLogin(login: DeviceLogin): void;

  /**
   * A fresh access token: refreshed proactively within the leeway, one
   * refresh shared by all concurrent callers.
   */
  getAccessToken(): Promise<string>;

  /**
   * `fetch` with `Authorization: Bearer` (or `X-API-Key`) attached. `input` is
   * a path relative to `apiUrl`, or an absolute URL on `apiUrl`'s origin, or a
   * `Request` for one (its method, headers and body kept, `init` on top).
   * Credentials are never sent elsewhere: another origin is `invalid_config`,
   * and no redirect is followed (the 3xx is the answer; in a browser, an
   * opaque redirect with status 0).
   * A 401 refreshes once and retries once; idempotent requests are retried on
   * network errors and 502/503/504. Resolves with the `Response` like `fetch`;
   * rejects with `unauthorized` when the credential is still refused, or with
   * `network`, `timeout` or `aborted` (`init.signal`).
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;

  /** The signed-in user's API keys. */
  readonly keys: MeshKeys;

  /** `POST /api/v1/chat` with `{ message }`; resolves with the JSON reply. */
  chat<T = unknown>(message: string): Promise<T>;

  /** `GET /auth/validate`; on 404 or a network error, validates the token locally. */
  validate(): Promise<ValidationResult>;

  /** Replaces the session (and stores it, and tells the other tabs). */
  setSession(session: SessionInput): void;

  /** The current session without tokens, or `null` when logged out. */
  getSession(): SessionInfo | null;
  /** Same as `getSession()`. */
  readonly session: SessionInfo | null;

  /** The session as `MESH_*` variables; `null` when not logged in. */
  exportEnv(): MeshEnv | null;

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends MeshClientEvent>(event: E, handler: (payload: MeshClientEvents[E]) => void): () => void;

  /**
   * Revokes the refresh token where the provider allows it, clears storage
   * and ends the session in every tab. Never rejects because revocation failed:
   * `revoked` says whether it succeeded. `logoutUrl` is the provider's
   * RP-initiated logout URL (with `id_token_hint` and `post_logout_redirect_uri`
   * = `returnTo`) when discovery has an `end_session_endpoint`, else `null`.
   */
  logout(options?: LogoutOptions): Promise<LogoutResult>;
  /** `logout()`, then navigates to `logoutUrl` when there is one. */
  logoutWithRedirect(options?: LogoutOptions): Promise<LogoutResult>;

  /**
   * The provider's authorization URL (authorization code with PKCE S256, a
   * fresh `state` and `nonce`); the login waits in this tab's sessionStorage
   * for its callback.
   */
  authorizeUrl(options: AuthorizeOptions): Promise<string>;
  /** `authorizeUrl(options)`, then navigates there. */
  loginWithRedirect(options: AuthorizeOptions): Promise<void>;
  /**
   * Completes the redirect login whose callback URL is `url` (default
   * `location.href`): checks `state`, `iss` and the ID token, exchanges the
   * code and stores the session. Rejects with `state_mismatch`,
   * `issuer_mismatch`, `access_denied`, `login_required`,
   * `authorization_failed` or `invalid_id_token`, storing nothing.
   */
  handleRedirectCallback(url?: string): Promise<RedirectSession>;

  /** Stops everything the client started; no timer outlives it. Later calls reject with `disposed`. */
  dispose(): void;
  /** Frees the wasm memory of this client (wasm-bindgen). Prefer `dispose`. */
  free(): void;
}

// ---------------------------------------------------------------------------

/** The package version. */
export function version(): string;
