// Approves (or denies) a device login the way a person in a browser would:
// open the verification link, confirm the code on the provider's page, sign
// in with a login and password, and allow (or deny) on the consent page.
// Everything goes over HTTP with cookies and form posts; nothing reaches into
// the provider's internals.
//
//   await approveDevice({ verificationUriComplete, login: 'demo', password: 'demo' });
//   await approveDevice({ verificationUri, userCode, deny: true });

const MAX_REDIRECTS = 10;

/** A tiny cookie-keeping, redirect-following HTTP "browser" for HTML forms. */
export class FormBrowser {
  #cookies = new Map(); // `${name}\0${path}` -> { name, value, path, expires }

  async get(url) {
    return this.#follow(url, { method: 'GET' });
  }

  async post(url, fields) {
    return this.#follow(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /**
   * Submits a form of `page` as a click on a submit button would.
   * @param {{url: string, html: string}} page
   * @param {object} how `id` or `action` (substring) picks the form; `fields`
   *   overrides/adds inputs (the clicked button's name and value go here).
   */
  async submit(page, { id, action, fields = {} } = {}) {
    const forms = parseForms(page.html);
    const form = forms.find((f) => (id ? f.attrs.id === id : action ? (f.attrs.action ?? '').includes(action) : true));
    if (!form) {
      throw new Error(`no form ${id ?? action ?? ''} on page ${page.url} (status ${page.status}): ${textOf(page.html).slice(0, 300)}`);
    }
    const target = new URL(form.attrs.action || page.url, page.url).href;
    const method = (form.attrs.method || 'get').toUpperCase();
    const data = { ...form.inputs, ...fields };
    if (method === 'POST') return this.post(target, data);
    const u = new URL(target);
    for (const [k, v] of Object.entries(data)) u.searchParams.set(k, v);
    return this.get(u.href);
  }

  async #follow(url, init) {
    let current = url;
    let req = init;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await fetch(current, {
        ...req,
        redirect: 'manual',
        headers: { ...req.headers, cookie: this.#cookieHeader(current), accept: 'text/html' },
        signal: AbortSignal.timeout(15000),
      });
      this.#store(current, res.headers.getSetCookie());
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        await res.arrayBuffer();
        current = new URL(res.headers.get('location'), current).href;
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && req.method === 'POST')) {
          req = { method: 'GET' };
        }
        continue;
      }
      return { url: current, status: res.status, html: await res.text() };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  #store(url, setCookies) {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = defaultPath(url);
      let expires = Infinity;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=').map((x) => x.trim());
        const key = k.toLowerCase();
        if (key === 'path') path = v || '/';
        else if (key === 'max-age') expires = Date.now() + Number(v) * 1000;
        else if (key === 'expires' && expires === Infinity) expires = Date.parse(v);
      }
      const k = `${name}\0${path}`;
      if (expires <= Date.now()) this.#cookies.delete(k);
      else this.#cookies.set(k, { name, value, path, expires });
    }
  }

  #cookieHeader(url) {
    const { pathname } = new URL(url);
    const now = Date.now();
    return [...this.#cookies.values()]
      .filter((c) => c.expires > now && pathMatches(pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

function defaultPath(url) {
  const { pathname } = new URL(url);
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

function pathMatches(reqPath, cookiePath) {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

function attrsOf(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([\w:.-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** Forms of a page: their attributes and the values of their named inputs. */
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const inputs = {};
    for (const im of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attrsOf(im[1]);
      if (a.name && !['submit', 'button'].includes(a.type)) inputs[a.name] = a.value ?? '';
    }
    forms.push({ attrs: attrsOf(m[1]), inputs });
  }
  return forms;
}

function decodeEntities(s) {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" }[e]));
}

/** The visible text of a page, for error messages and assertions. */
export function textOf(html) {
  return html.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}

/**
 * Drives the provider's pages for one device login.
 * @param {object} o
 * @param {string} [o.verificationUriComplete] the link with the code in it, or
 * @param {string} [o.verificationUri]  with `userCode` (typed into the code page)
 * @param {string} [o.uri]              alias of verificationUri
 * @param {string} [o.userCode]
 * @param {string} [o.login='demo']
 * @param {string} [o.password='demo']
 * @param {boolean|'confirm'|'consent'} [o.deny=false]  deny at the code
 *   confirmation page (true or 'confirm') or on the consent page ('consent')
 * @returns {Promise<{outcome: 'approved'|'denied', text: string}>}
 */
export async function approveDevice(o) {
  const { login = 'demo', password = 'demo', deny = false } = o;
  const verificationUri = o.verificationUri ?? o.uri;
  const browser = new FormBrowser();

  let pageNow;
  if (o.verificationUriComplete) {
    // The link lands on an auto-submitting form (script); a browser submits it.
    const landing = await browser.get(o.verificationUriComplete);
    pageNow = await browser.submit(landing, {});
  } else {
    if (!verificationUri || !o.userCode) throw new Error('approveDevice needs verificationUriComplete, or verificationUri and userCode');
    const input = await browser.get(verificationUri);
    pageNow = await browser.submit(input, { id: 'op.deviceInputForm', fields: { user_code: o.userCode } });
  }

  // "Confirm device" page: the form plus Continue / Abort buttons.
  expectForm(pageNow, 'op.deviceConfirmForm', 'code confirmation');
  if (deny === true || deny === 'confirm') {
    const done = await browser.submit(pageNow, { id: 'op.deviceConfirmForm', fields: { abort: 'yes' } });
    return { outcome: 'denied', text: textOf(done.html) };
  }
  pageNow = await browser.submit(pageNow, { id: 'op.deviceConfirmForm' });

  // Sign in.
  expectForm(pageNow, '/login', 'login');
  pageNow = await browser.submit(pageNow, { action: '/login', fields: { login, password } });
  if (parseForms(pageNow.html).some((f) => (f.attrs.action ?? '').endsWith('/login'))) {
    throw new Error(`login rejected for ${login}: ${textOf(pageNow.html).slice(0, 200)}`);
  }

  // Consent (shown once per grant).
  if (parseForms(pageNow.html).some((f) => (f.attrs.action ?? '').endsWith('/confirm'))) {
    pageNow = deny === 'consent'
      ? await browser.submit(pageNow, { action: '/abort' })
      : await browser.submit(pageNow, { action: '/confirm' });
  }
  const text = textOf(pageNow.html);
  if (deny === 'consent') return { outcome: 'denied', text };
  if (pageNow.status !== 200 || !/success/i.test(text)) {
    throw new Error(`device approval did not succeed (status ${pageNow.status} at ${pageNow.url}): ${text.slice(0, 300)}`);
  }
  return { outcome: 'approved', text };
}

function expectForm(page, idOrAction, what) {
  const ok = parseForms(page.html).some((f) => f.attrs.id === idOrAction || (f.attrs.action ?? '').endsWith(idOrAction));
  if (!ok) throw new Error(`expected the ${what} page, got status ${page.status} at ${page.url}: ${textOf(page.html).slice(0, 300)}`);
}
