// The one error shape of mesh-sdk: an Error named "MeshError" with a stable
// `code`. Errors cross the wasm boundary as plain Errors, so this checks the
// shape rather than a class.
export function isMeshError(value) {
  return value instanceof Error && value.name === 'MeshError' && typeof value.code === 'string';
}

export function notInitialized(name) {
  const err = new Error(
    `mesh-sdk/slim: ${name} was used before the wasm was initialised; ` +
      `call \`await init(wasm)\` from 'mesh-sdk/slim' first`,
  );
  err.name = 'MeshError';
  err.code = 'not_initialized';
  return err;
}
