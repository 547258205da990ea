// The one error class of mesh-sdk. Errors made in Rust are instances of it
// too (src/wasm/error.rs imports this module), so `instanceof` holds for
// every error from every entry.

/** @import { MeshErrorCode, MeshErrorContext } from './index.js' */

export class MeshError extends Error {
  name = /** @type {const} */ ('MeshError');

  /**
   * @param {MeshErrorCode} code
   * @param {string} message
   * @param {MeshErrorContext} [context]
   * @param {unknown} [cause]
   */
  constructor(code, message, context, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    if (context !== undefined) {
      /** @type {MeshErrorContext | undefined} */
      this.context = context;
      /** HTTP status, when the error came from a response. @type {number | undefined} */
      if (context.status !== undefined) this.status = context.status;
    }
  }
}

/**
 * True when `value` is a MeshError. The shape is checked as well as the
 * class, so an error from another copy of the package still counts.
 * @param {unknown} value
 * @returns {value is MeshError}
 */
export function isMeshError(value) {
  return value instanceof MeshError || (value instanceof Error && value.name === 'MeshError' && typeof (/** @type {any} */ (value)).code === 'string');
}

/** The slim entry's error before init: the wasm that makes every other error is not loaded yet. @param {string} name */
export function notInitialized(name) {
  return new MeshError(
    'not_initialized',
    `mesh-sdk/slim: ${name} was used before the wasm was initialised; ` + `call \`await init(wasm)\` from 'mesh-sdk/slim' first`,
  );
}
