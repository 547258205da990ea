// mesh-sdk/next's cookie jars: a request's `Cookie` header with the
// `Set-Cookie` headers of its answer, or Next.js's `cookies()`. What the
// cookies are called and hold is the core's (ServerRules); these only read
// and write them.

/** @import { CookieWrite } from './steps.js' */
/** @typedef {{ header: string, write(writes: CookieWrite[]): void }} Jar */

/** The cookies of a `Request`; what is set goes to `headers` (when given). @param {Request} request @param {Headers} [headers] @returns {Jar} */
export function requestJar(request, headers) {
  return {
    header: request.headers.get('cookie') ?? '',
    write(writes) {
      for (const w of writes) headers?.append('set-cookie', w.header);
    },
  };
}

/**
 * Next.js's `cookies()`: writable in route handlers and server actions; a
 * server component cannot set cookies. Outside Next.js `next/headers` does
 * not load: `outside(e)` is the error then.
 * @param {(e: unknown) => Error} outside @returns {Promise<Jar>}
 */
export async function nextJar(outside) {
  let headersModule;
  try {
    // @ts-ignore: next is the app's dependency, not this package's.
    headersModule = await import('next/headers');
  } catch (e) {
    throw outside(e);
  }
  const store = await headersModule.cookies();
  return {
    header: store.getAll().map((/** @type {{ name: string, value: string }} */ c) => `${c.name}=${c.value}`).join('; '),
    write(writes) {
      for (const w of writes) {
        try {
          store.set(w.name, w.value, w.options);
        } catch {
          // A server component: the response is streaming; the cached session keeps the new tokens.
        }
      }
    },
  };
}
