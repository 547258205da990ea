// mesh-sdk/slim: the client, with the wasm supplied and initialised by the
// caller. Until `init` resolves, every export throws a MeshError with code
// `not_initialized`. The gateway is not in this entry.

export { MeshClient, MeshError, version, isMeshError } from './browser.js';
export type {
  ApiKey, CallOptions, CreatedApiKey, DeviceLogin, MeshApiKeyOptions, MeshClientEvent,
  MeshClientEvents, MeshClientOptions, MeshCommonOptions, MeshEnv, MeshErrorCode,
  MeshErrorContext, MeshKeys, MeshOAuthOptions, MeshStorage, MeshStorageOption, Session,
  SessionEndReason, SessionInfo, SessionInput, ValidationResult,
  AuthorizeOptions, LogoutOptions, LogoutResult, RedirectSession, User,
} from './browser.js';

/**
 * What `init` accepts: the bytes of `mesh-sdk/slim.wasm`, a compiled
 * `WebAssembly.Module`, its URL, or a `Response` (streamed when served as
 * `application/wasm`). Without an argument, the `.wasm` is fetched from beside
 * the glue.
 */
export type WasmSource =
  | BufferSource
  | WebAssembly.Module
  | URL
  | string
  | Response
  | Promise<Response>;

/**
 * Loads and instantiates the wasm; call once, before anything else.
 * `redirectWasm`: where the redirect login's module (`mesh-sdk/wasm/redirect`)
 * comes from, loaded on the first `authorizeUrl`, `loginWithRedirect` or
 * `handleRedirectCallback`; by default it is fetched from beside its glue.
 */
export default function init(wasm?: WasmSource, redirectWasm?: WasmSource): Promise<void>;

/** Synchronous init from bytes or a compiled module. */
export function initSync(wasm: BufferSource | WebAssembly.Module): void;
