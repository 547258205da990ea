// Type-checked by tests/packaging/types.test.mjs with the `browser` export
// condition: the browser entry's types are the client's, without the gateway.
import * as browser from 'mesh-sdk';
import { MeshClient, MeshError } from 'mesh-sdk';

export const client = new MeshClient({ issuer: 'http://i', clientId: 'c', storage: 'localStorage' });
export const isError = (e: unknown): boolean => e instanceof MeshError && e.code === 'network';
// @ts-expect-error the browser build has no gateway
export const gateway = browser.createGateway;
