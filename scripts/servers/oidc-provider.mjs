// oidc-provider, imported without its import-time "Unsupported runtime"
// warning on Node 20. Its authors support Node 22+ LTS only and say so on
// every import; this repository runs it on Node 20.19+ (Debian's Node on the
// project's machines), where CI runs every suite against it. The README's
// "Requirements" says so once, instead of each test file's output.
// Any other warning of the library passes through.
const UNSUPPORTED = 'oidc-provider WARNING: Unsupported runtime';

const warn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes(UNSUPPORTED)) return;
  warn(...args);
};
let library;
try {
  library = await import('oidc-provider');
} finally {
  console.warn = warn;
}

export default library.default;
export const { errors } = library;
