// mesh-sdk/react: hooks over a MeshClient the app builds. A thin layer: what
// the session is, when a token is due, how a device login goes are the
// client's (and its core's) decisions; this only re-renders when the client
// says something changed (its events, no timer) and keeps a device login's
// state for a component. It imports no wasm, so importing it on a server never
// fails; nothing here touches the client until a component mounts in a browser.

import { createContext, createElement, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';

/** @import { DeviceLogin, MeshClient, MeshError, SessionInfo } from './browser.js' */
/** @import { ReactNode } from 'react' */
/** @import { SessionState, DeviceLoginState } from './react.js' */

/** @type {import('react').Context<MeshClient | null>} */
const MeshContext = createContext(/** @type {MeshClient | null} */ (null));

/** @type {SessionState} */
const LOADING = Object.freeze({ status: 'loading', session: null });

/**
 * One store per client, shared by every hook over it: the snapshot changes
 * only when the client reports a change, so `useSyncExternalStore` sees the
 * same object between changes.
 */
class SessionStore {
  /** @param {MeshClient} client */
  constructor(client) {
    this.client = client;
    /** @type {SessionState} */
    this.snapshot = LOADING;
    this.loaded = false;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    /** @type {(() => void)[]} */
    this.detach = [];
  }

  /** Reads the client's session again and tells the components when it changed. */
  update() {
    if (!this.loaded) return;
    const session = this.client.getSession();
    const next = session ? { status: 'signed-in', session } : { status: 'signed-out', session: null };
    const now = this.snapshot;
    if (now.status === next.status && JSON.stringify(now.session) === JSON.stringify(next.session)) return;
    this.snapshot = /** @type {SessionState} */ (Object.freeze(next));
    for (const listener of this.listeners) listener();
  }

  /** @param {() => void} listener */
  subscribe = (listener) => {
    this.listeners.add(listener);
    if (this.detach.length === 0) {
      // Refreshes here or in another tab, logins in another tab, logouts, expiry.
      this.detach = [this.client.on('refreshed', () => this.update()), this.client.on('sessionEnded', () => this.update())];
      // The stored session is read on first use: ask for a token once, and
      // take the session the client has after that, whatever the answer.
      const settle = () => {
        this.loaded = true;
        this.update();
      };
      if (!this.loaded) this.client.getAccessToken().then(settle, settle);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        for (const off of this.detach) off();
        this.detach = [];
      }
    };
  };

  getSnapshot = () => this.snapshot;
}

/** @type {WeakMap<MeshClient, SessionStore>} */
const stores = new WeakMap();

/** @param {MeshClient} client */
function storeOf(client) {
  let store = stores.get(client);
  if (!store) stores.set(client, (store = new SessionStore(client)));
  return store;
}

/** @param {{ client: MeshClient, children?: ReactNode }} props */
export function MeshProvider({ client, children }) {
  return createElement(MeshContext.Provider, { value: client }, children);
}

/** The client of the nearest `<MeshProvider>`. */
export function useMeshClient() {
  const client = useContext(MeshContext);
  if (!client) throw new TypeError('mesh-sdk/react: wrap the app in <MeshProvider client={client}>');
  return client;
}

/** @returns {SessionState} */
export function useSession() {
  const store = storeOf(useMeshClient());
  return useSyncExternalStore(store.subscribe, store.getSnapshot, () => LOADING);
}

/** The current access token while signed in (again after each refresh), and `getAccessToken` for a call. */
export function useAccessToken() {
  const client = useMeshClient();
  const { status, session } = useSession();
  const [state, setState] = useState(/** @type {{ token: string | null, error: MeshError | null }} */ ({ token: null, error: null }));
  const expiresAt = session?.expiresAt;
  const receivedAt = session?.receivedAt;
  useEffect(() => {
    if (status !== 'signed-in') {
      setState({ token: null, error: null });
      return;
    }
    let current = true;
    client.getAccessToken().then(
      (token) => current && setState({ token, error: null }),
      (error) => current && setState({ token: null, error }),
    );
    return () => {
      current = false;
    };
  }, [client, status, expiresAt, receivedAt]);
  const getAccessToken = useCallback(() => client.getAccessToken(), [client]);
  return { status, token: state.token, error: state.error, getAccessToken };
}

/** @type {DeviceLoginState} */
const IDLE = { status: 'idle', login: null, error: null };

/**
 * A device login for a component: `start()`, the login to show while it is
 * `pending`, `cancel()`. One started before a reload of the page is resumed.
 */
export function useDeviceLogin() {
  const client = useMeshClient();
  const store = storeOf(client);
  const [state, setState] = useState(IDLE);
  const run = useRef(/** @type {{ controller: AbortController, done: Promise<unknown>, login?: DeviceLogin } | null} */ (null));

  const drive = useCallback(
    /** @param {(signal: AbortSignal) => Promise<DeviceLogin>} begin */
    (begin) => {
      const previous = run.current;
      previous?.controller.abort();
      const controller = new AbortController();
      const { signal } = controller;
      /** @type {{ controller: AbortController, done: Promise<unknown>, login?: DeviceLogin }} */
      const mine = { controller, done: Promise.resolve() };
      const mineNow = () => run.current === mine && !signal.aborted;
      mine.done = (async () => {
        // The core completes a login once at a time: let an aborted run end first.
        await previous?.done;
        if (signal.aborted) return;
        setState({ status: 'starting', login: null, error: null });
        const login = await begin(signal);
        if (!mineNow()) return;
        mine.login = login;
        setState({ status: 'pending', login, error: null });
        await client.completeDeviceLogin(login, { signal });
        store.update();
        if (mineNow()) setState({ status: 'complete', login: null, error: null });
      })().catch((/** @type {MeshError} */ error) => {
        // An abort is this hook's own doing (cancel, unmount, a new start).
        if (mineNow()) setState({ status: 'error', login: null, error });
      });
      run.current = mine;
      return mine.done;
    },
    [client, store],
  );

  useEffect(() => {
    let login = null;
    try {
      login = client.pendingDeviceLogin();
    } catch (error) {
      setState({ status: 'error', login: null, error: /** @type {MeshError} */ (error) });
    }
    if (login) {
      const kept = login;
      drive(async () => kept);
    }
    // Unmounting aborts the polling; the login stays resumable.
    return () => run.current?.controller.abort();
  }, [client, drive]);

  const start = useCallback(() => drive((signal) => client.startDeviceLogin({ signal })), [client, drive]);
  const cancel = useCallback(() => {
    const current = run.current;
    run.current = null;
    current?.controller.abort();
    if (current?.login) client.cancelDeviceLogin(current.login);
    setState(IDLE);
  }, [client]);

  return { ...state, start, cancel };
}
