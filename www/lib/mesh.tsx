'use client';
// One MeshClient per page load, shared by every page through React context.
//
// The package is imported inside an effect, so the server render never loads
// the wasm or touches localStorage: on the server this provider renders its
// children with a "loading" client, and the browser takes over after hydration.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { errorCode, errorMessage } from './errors';
import type { MeshClient, MeshErrorCode, SessionInfo } from 'mesh-sdk';
import type { MeshConfig } from './mesh-types';

export type ClientState =
  | { status: 'loading' }
  | { status: 'ready'; client: MeshClient }
  | { status: 'error'; message: string };

export type SessionState =
  | { status: 'unknown' }
  | { status: 'signedOut'; notice?: string }
  | {
      status: 'signedIn';
      userId: string | undefined;
      /** Who signed in, for people: the ID token's `name` (redirect login), else its `sub`, else the user id. */
      userName: string | undefined;
      /** Access-token expiry, Unix milliseconds (undefined if the client does not say). */
      expiresAt: number | undefined;
      refreshCount: number;
      lastRefreshAt: number | undefined;
      warning?: string;
    };

interface MeshContextValue {
  config: MeshConfig;
  client: ClientState;
  session: SessionState;
  /** Re-reads the session from the client (after a login, for example). */
  reloadSession(): Promise<void>;
  /** The redirect login: to the provider's pages, back to /login/callback, then to `returnTo`. */
  signIn(returnTo?: string): Promise<void>;
  signOut(): Promise<void>;
}

const MeshContext = createContext<MeshContextValue | null>(null);

// Errors that mean "there is no usable session", as opposed to a failure
// worth showing (the provider down, say).
const NO_SESSION: ReadonlySet<string> = new Set<MeshErrorCode>(['not_logged_in', 'session_ended', 'unauthorized', 'storage']);

// While signed in, ask the client for a token this often. getAccessToken()
// checks the wall clock and refreshes proactively when the token nears expiry,
// so the expiry shown on /login moves forward as the client refreshes.
const KEEP_ALIVE_MS = 5_000;

/** Where the provider sends the browser back after "Sign in" (registered with the provider). */
export const CALLBACK_PATH = '/login/callback';
/** Where the provider's sign-out page sends the browser back (registered too). */
const AFTER_LOGOUT_PATH = '/login';
// Set just before the tab leaves for the provider's sign-out page, so /login
// says "You are signed out." on the way back, as every other tab does.
const SIGNED_OUT_KEY = 'mesh-demo:signed-out';

// The session without its tokens: the page never handles a token.
function readSession(client: MeshClient): { userId?: string; userName?: string; expiresAt?: number } {
  return fromInfo(client.getSession());
}

function fromInfo(info: SessionInfo | null): { userId?: string; userName?: string; expiresAt?: number } {
  const userId = info?.userId ?? undefined;
  return {
    userId,
    userName: info?.user?.name ?? info?.user?.sub ?? userId,
    expiresAt: info?.expiresAt ? info.expiresAt * 1000 : undefined,
  };
}

/** "You are signed out." once, after a sign-out that went through the provider's page. */
function takeSignedOutNotice(): string | undefined {
  try {
    if (sessionStorage.getItem(SIGNED_OUT_KEY) === null) return undefined;
    sessionStorage.removeItem(SIGNED_OUT_KEY);
    return 'You are signed out.';
  } catch {
    return undefined;
  }
}

export function MeshProvider({ config, children }: { config: MeshConfig; children: ReactNode }) {
  const [client, setClient] = useState<ClientState>({ status: 'loading' });
  const [session, setSession] = useState<SessionState>({ status: 'unknown' });
  const { issuer, clientId, audience, apiUrl } = config;

  useEffect(() => {
    let cancelled = false;
    let created: MeshClient | undefined;
    import('mesh-sdk')
      .then((mesh) => {
        if (cancelled) return;
        const instance = new mesh.MeshClient({
          issuer,
          clientId,
          audience,
          apiUrl,
          // profile: the user's name in the ID token, shown on /login.
          scope: 'openid profile offline_access',
          // Shared by /login and /settings, by tabs, and across reloads.
          storage: 'localStorage',
          // A person waits less than the library's default minute.
          timeoutMs: 20_000,
        });
        created = instance;
        setClient({ status: 'ready', client: instance });
      })
      .catch((err: unknown) => {
        if (!cancelled) setClient({ status: 'error', message: errorMessage(err) });
      });
    return () => {
      cancelled = true;
      created?.dispose();
    };
  }, [issuer, clientId, audience, apiUrl]);

  const activeClient = client.status === 'ready' ? client.client : undefined;
  const clientRef = useRef<MeshClient | undefined>(undefined);
  clientRef.current = activeClient;

  const reloadSession = useCallback(async () => {
    const c = clientRef.current;
    if (!c) return;
    try {
      await c.getAccessToken();
    } catch (err) {
      if (clientRef.current !== c) return;
      const code = errorCode(err);
      setSession({
        status: 'signedOut',
        notice: code && NO_SESSION.has(code) ? takeSignedOutNotice() : `Could not restore the session: ${errorMessage(err)}`,
      });
      return;
    }
    if (clientRef.current !== c) return;
    const { userId, userName, expiresAt } = readSession(c);
    setSession((prev) => ({
      status: 'signedIn',
      userId,
      userName,
      expiresAt,
      refreshCount: prev.status === 'signedIn' ? prev.refreshCount : 0,
      lastRefreshAt: prev.status === 'signedIn' ? prev.lastRefreshAt : undefined,
    }));
  }, []);

  // Restore the stored session and follow the client's events.
  useEffect(() => {
    if (!activeClient) return;
    void reloadSession();
    const offs = [
      activeClient.on('refreshed', (info) => {
        const { userId, userName, expiresAt } = fromInfo(info);
        // It also fires for a login (here or in another tab): only new
        // tokens for a session already shown count as a refresh.
        setSession((prev) =>
          prev.status === 'signedIn'
            ? {
                status: 'signedIn',
                userId: userId ?? prev.userId,
                userName: userName ?? prev.userName,
                expiresAt,
                refreshCount: prev.refreshCount + 1,
                lastRefreshAt: Date.now(),
              }
            : { status: 'signedIn', userId, userName, expiresAt, refreshCount: 0, lastRefreshAt: undefined },
        );
      }),
      activeClient.on('refreshFailed', ({ error }) => {
        setSession((prev) =>
          prev.status === 'signedIn'
            ? { ...prev, warning: `A token refresh failed (${errorMessage(error)}); the client will try again.` }
            : prev,
        );
      }),
      activeClient.on('sessionEnded', ({ reason }) => {
        setSession({
          status: 'signedOut',
          notice:
            reason === 'logout'
              ? 'You are signed out.'
              : reason === 'expired'
                ? 'Your session expired and could not be renewed. Sign in again to continue.'
                : 'Your session ended. Sign in again to continue.',
        });
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [activeClient, reloadSession]);

  const signedIn = session.status === 'signedIn';
  useEffect(() => {
    if (!activeClient || !signedIn) return;
    const timer = setInterval(() => {
      activeClient.getAccessToken().then(
        () => {
          // A refresh fires 'refreshed'; this also catches a session another
          // tab renewed through shared storage.
          const { expiresAt } = readSession(activeClient);
          setSession((prev) => (prev.status === 'signedIn' && prev.expiresAt !== expiresAt ? { ...prev, expiresAt } : prev));
        },
        () => {
          // 'sessionEnded' or 'refreshFailed' tells the page what happened.
        },
      );
    }, KEEP_ALIVE_MS);
    return () => clearInterval(timer);
  }, [activeClient, signedIn]);

  const signIn = useCallback(async (returnTo?: string) => {
    const c = clientRef.current;
    if (!c) return;
    await c.loginWithRedirect({ redirectUri: `${location.origin}${CALLBACK_PATH}`, returnTo });
  }, []);

  // logout() revokes the refresh token and ends the session in every tab;
  // where the provider has an end-session endpoint, this tab then signs out
  // there too and comes back to /login.
  const signOut = useCallback(async () => {
    const c = clientRef.current;
    if (!c) return;
    try {
      const { logoutUrl } = await c.logout({ returnTo: `${location.origin}${AFTER_LOGOUT_PATH}` });
      if (logoutUrl) {
        try {
          sessionStorage.setItem(SIGNED_OUT_KEY, '1');
        } catch {
          // Without sessionStorage the page back from the provider just says "Sign in".
        }
        location.assign(logoutUrl);
        return;
      }
      setSession({ status: 'signedOut', notice: 'You are signed out.' });
    } catch (err) {
      // logout() clears local storage even when revocation fails.
      setSession({ status: 'signedOut', notice: `Signed out here; the provider could not be told: ${errorMessage(err)}` });
    }
  }, []);

  const value = useMemo<MeshContextValue>(
    () => ({ config, client, session, reloadSession, signIn, signOut }),
    [config, client, session, reloadSession, signIn, signOut],
  );
  return <MeshContext.Provider value={value}>{children}</MeshContext.Provider>;
}

export function useMesh(): MeshContextValue {
  const value = useContext(MeshContext);
  if (!value) throw new Error('useMesh() must be used inside <MeshProvider>');
  return value;
}

/** Ticks every second while `active`, for countdowns. */
export function useNow(active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

export function formatDuration(ms: number): string {
  // Never overstate what is left.
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}
