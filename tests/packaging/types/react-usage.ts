// Type-checked by tests/packaging/types.test.mjs against the packed
// mesh-sdk/react types (with @types/react), in both module resolutions:
// the hooks as users write them, plus wrong usage that must not compile.
import { createElement } from 'react';
import { MeshClient, type DeviceLogin, type MeshError, type SessionInfo } from 'mesh-sdk';
import {
  MeshProvider,
  useAccessToken,
  useDeviceLogin,
  useMeshClient,
  useSession,
  type DeviceLoginState,
  type SessionState,
} from 'mesh-sdk/react';

const client = new MeshClient({ issuer: 'http://i', clientId: 'c', storage: 'localStorage' });
export const tree = createElement(MeshProvider, { client }, 'children');

export function Account(): string {
  const state: SessionState = useSession();
  const same: MeshClient = useMeshClient();
  void same;
  if (state.status === 'signed-in') {
    const info: SessionInfo = state.session;
    return info.userId ?? '';
  }
  // @ts-expect-error no session unless signed in
  const none: SessionInfo = state.session;
  void none;
  const { token, error, getAccessToken } = useAccessToken();
  const pending: Promise<string> = getAccessToken();
  void pending;
  const why: MeshError | null = error;
  void why;
  const device = useDeviceLogin();
  const kept: DeviceLoginState['status'] = device.status;
  void kept;
  if (device.status === 'pending') {
    const login: DeviceLogin = device.login;
    return login.userCode;
  }
  if (device.status === 'error') return device.error.code;
  void device.start();
  device.cancel();
  // @ts-expect-error the status is one of five words
  const wrong: typeof device.status = 'waiting';
  void wrong;
  return token ?? '';
}

// @ts-expect-error the provider needs a client
export const missing = createElement(MeshProvider, {}, 'children');
