// Signs in at oidc-provider's own pages (login, then consent) as a browser
// would, over HTTP with the provider's cookies, and returns the URL the
// provider sends the browser back to (the first one under `redirectPrefix`).
import assert from 'node:assert/strict';

export async function providerLogin(authorizeUrl, user, redirectPrefix) {
  const jar = new Map();
  const go = async (url, init = {}) => {
    const headers = { ...(init.headers ?? {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
  let url = authorizeUrl;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(redirectPrefix)) return url;
    let res = await go(url);
    if (res.status === 200) {
      const page = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
      assert.ok(action, page);
      const body = page.includes('name="password"') ? new URLSearchParams({ login: user.login, password: user.password }) : new URLSearchParams();
      const target = new URL(action.replaceAll('&amp;', '&'), url).href;
      res = await go(target, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    }
    assert.ok(res.status >= 300 && res.status < 400, `hop ${hop}: ${res.status} ${await res.text()}`);
    url = new URL(res.headers.get('location'), url).href;
  }
  throw new Error('too many redirects');
}
