// mesh-sdk/react: React hooks over a MeshClient (React 18 or newer, an
// optional peer dependency). Safe to import and render on a server: the
// hooks report `loading` there and touch the client only in the browser.

import type { ReactNode } from 'react';
import type { DeviceLogin, MeshClient, MeshError, SessionInfo } from './browser.js';

/** What `useSession()` returns; `loading` until the stored session was read (and always on the server). */
export type SessionState =
  | { readonly status: 'loading'; readonly session: null }
  | { readonly status: 'signed-out'; readonly session: null }
  | { readonly status: 'signed-in'; readonly session: SessionInfo };

export type SessionStatus = SessionState['status'];

/** Gives the hooks below it the client. Build the client once (module scope is fine, also on a server). */
export function MeshProvider(props: { client: MeshClient; children?: ReactNode }): ReactNode;

/** The client of the nearest `<MeshProvider>`; throws outside one. */
export function useMeshClient(): MeshClient;

/** The session, re-rendered on a login, a refresh (here or in another tab), a logout or an expiry. */
export function useSession(): SessionState;

export interface AccessTokenState {
  readonly status: SessionStatus;
  /** The current access token while signed in; `null` until it is known. Fetched again after each refresh. */
  readonly token: string | null;
  /** Why the last token could not be had (a `MeshError`), else `null`. */
  readonly error: MeshError | null;
  /** `client.getAccessToken()`: a usable token now, refreshed when due. */
  getAccessToken(): Promise<string>;
}

export function useAccessToken(): AccessTokenState;

/** `idle`, `starting` (asking the provider for a code), `pending` (show `login`), `complete`, `error`. */
export type DeviceLoginState =
  | { readonly status: 'idle'; readonly login: null; readonly error: null }
  | { readonly status: 'starting'; readonly login: null; readonly error: null }
  | { readonly status: 'pending'; readonly login: DeviceLogin; readonly error: null }
  | { readonly status: 'complete'; readonly login: null; readonly error: null }
  | { readonly status: 'error'; readonly login: null; readonly error: MeshError };

export type DeviceLoginControls = DeviceLoginState & {
  /** Asks for a new code and waits for the user's approval (ending any login this hook runs). */
  start(): Promise<unknown>;
  /** Ends the login here (`client.cancelDeviceLogin`): it cannot be completed or resumed. */
  cancel(): void;
};

/**
 * A device login for a component. A login started before a reload of the
 * page is resumed (with `storage: 'localStorage'` or `'sessionStorage'`).
 */
export function useDeviceLogin(): DeviceLoginControls;
