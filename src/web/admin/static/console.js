// @ts-check
/**
 * The admin console's one script: every read and change goes through the
 * admin API (/api/v1) with the session cookie, and the session's CSRF token
 * in X-CSRF-Token on every state-changing call; the API decides what the
 * caller may do, this only shows it. Edits carry the ETag the form was
 * filled from in If-Match, so an edit over somebody else's answers 412 and
 * is shown as such. /api/v1/events (Server-Sent Events) says when to re-read.
 *
 * The DOM is built with createElement and textContent only: nothing from
 * the API is ever parsed as HTML.
 */

const csrfMeta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="rookery-csrf"]'));
const csrf = csrfMeta ? csrfMeta.content : '';
const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('sections'));
const live = /** @type {HTMLElement} */ (document.getElementById('live'));
const MiB = 1024 * 1024;

// ------------------------------------------------------------ DOM and API helpers

/**
 * An element with attributes, listeners (on* functions) and children.
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === 'checked' || k === 'value' || k === 'selected') /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** @param {HTMLElement} el @param {...(Node | string | null | undefined | false)} children */
function fill(el, ...children) {
  // Keep focus on the "same" control across a re-render (by its data-key).
  const active = document.activeElement;
  const key = active instanceof HTMLElement && el.contains(active) ? active.dataset.key : undefined;
  el.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false).map((c) => /** @type {Node | string} */ (c)));
  if (key) {
    const again = /** @type {HTMLElement | null} */ (el.querySelector(`[data-key="${CSS.escape(key)}"]`));
    again?.focus();
  }
}

/** Puts focus back on a control after its panel closed (keyboard users keep their place). @param {HTMLElement} within @param {string} key */
function focusKey(within, key) {
  /** @type {HTMLElement | null} */ (within.querySelector(`[data-key="${CSS.escape(key)}"]`))?.focus();
}

let fieldIds = 0;
/**
 * A control with its label beside it (not around it, so the label's text
 * alone is the control's name).
 * @param {string} label @param {HTMLElement} control
 */
function field(label, control) {
  control.id ||= `f${++fieldIds}`;
  if (control instanceof HTMLInputElement && control.type === 'checkbox') return h('div', { class: 'field check' }, control, h('label', { for: control.id }, label));
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
}

/** @param {HTMLElement} el */
function tableWrap(el) {
  return h('div', { class: 'table-wrap' }, el);
}

/**
 * An API call. Resolves with the answer whatever its status; rejects only
 * when the node could not be reached.
 * @param {string} method @param {string} path
 * @param {{ body?: unknown, ifMatch?: string | null }} [opts]
 * @returns {Promise<{ status: number, ok: boolean, etag: string | null, data: any }>}
 */
async function api(method, path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.status === 401) showSignedOut();
  return { status: res.status, ok: res.ok, etag: res.headers.get('ETag'), data };
}

/**
 * The API's error sentence for an answer that is not a success.
 * @param {{ status: number, data: any }} r
 */
function problem(r) {
  const e = r.data && r.data.error;
  const said = e && typeof e.message === 'string' ? e.message : `The node answered ${r.status}.`;
  return e && e.field ? `${said} (field: ${e.field})` : said;
}

/** @param {string} text */
function encode(text) {
  return encodeURIComponent(text);
}

function showSignedOut() {
  live.textContent = 'Your session has ended. Reload the page to sign in again.';
}

/**
 * A result line (role=status) and an error line (role=alert) for a part of the page.
 * @returns {{ el: HTMLElement, ok(text: string): void, fail(text: string, ...extra: HTMLElement[]): void, clear(): void }}
 */
function messages() {
  const status = h('p', { role: 'status', class: 'notice' });
  const alert = h('p', { role: 'alert', class: 'error' });
  const el = h('div', { class: 'messages' }, status, alert);
  return {
    el,
    ok(text) { alert.replaceChildren(); status.textContent = text; },
    fail(text, ...extra) { status.replaceChildren(); alert.replaceChildren(text, ...extra.map((x) => [' ', x]).flat()); },
    clear() { status.replaceChildren(); alert.replaceChildren(); },
  };
}

/** @param {number} bytes */
function size(bytes) {
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** @param {string} iso */
function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/**
 * Runs an action from a button, disabling it meanwhile.
 * @param {HTMLButtonElement | null} button @param {() => Promise<void>} fn
 */
async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    await fn();
  } catch (err) {
    live.textContent = `The node could not be reached (${err instanceof Error ? err.message : String(err)}); try again.`;
  } finally {
    if (button) button.disabled = false;
  }
}

// ------------------------------------------------------------ sections

/**
 * @typedef {{ role: string, domain: string | null, subject: string | null }} Me
 * @typedef {{ title: string, render(me: Me, arg: string): HTMLElement[], refresh?(): Promise<void>, on?: string[] }} Section
 */

/** @type {Record<string, Section>} */
const sections = {};
/** @type {Section | null} */
let current = null;

// ---- cluster

sections.cluster = (() => {
  const depth = h('p', { class: 'depth' });
  const list = h('div', { class: 'nodes' });
  const msg = messages();
  /** @type {ReturnType<typeof setInterval> | null} */
  let poll = null;

  /** @param {any} n */
  function nodeCard(n) {
    const services = Object.entries(n.services).sort(([a], [b]) => a.localeCompare(b));
    const total = services.reduce((sum, [, s]) => sum + (typeof s.connections === 'number' ? s.connections : 0), 0);
    const known = services.some(([, s]) => typeof s.connections === 'number');
    const drain = n.role === 'node' && n.state !== 'down'
      ? h('button', {
        type: 'button', 'data-key': `state-${n.name}`,
        onclick: (/** @type {Event} */ e) => busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
          const to = n.state === 'draining' ? 'up' : 'draining';
          const r = await api('PATCH', `/nodes/${encode(n.name)}`, { body: { state: to } });
          if (r.ok) msg.ok(to === 'draining' ? `${n.name} is draining: no new clients, open sessions go on.` : `${n.name} takes new clients again.`);
          else msg.fail(problem(r));
          await refresh();
        }),
      }, n.state === 'draining' ? `Undrain ${n.name}` : `Drain ${n.name}`)
      : null;
    return h('section', { class: 'node', 'aria-label': `Node ${n.name}` },
      h('h2', {}, n.name, h('span', { class: `state-${n.state}` }, n.state)),
      h('dl', {},
        h('dt', {}, 'Role'), h('dd', {}, n.role === 'balancer' ? 'traffic manager' : 'node'),
        h('dt', {}, 'Address'), h('dd', {}, n.address),
        h('dt', {}, 'Services'), h('dd', { class: 'letters', title: 'S smtp, U submission, P pop3, I imap, W web, D dns, Q queue; lower case: unhealthy' }, n.status),
        h('dt', {}, 'Connections'), h('dd', { class: 'connections' }, known ? String(total) : 'not reported'),
        h('dt', {}, 'Heartbeat'), h('dd', {}, ago(n.heartbeatAt)),
        h('dt', {}, 'Version'), h('dd', {}, n.version)),
      tableWrap(h('table', {},
        h('caption', { class: 'visually-hidden' }, `Services of ${n.name}`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Port'), h('th', { scope: 'col' }, 'Health'), h('th', { scope: 'col' }, 'Connections'))),
        h('tbody', {}, ...services.map(([name, s]) => h('tr', {},
          h('th', { scope: 'row' }, name),
          h('td', {}, s.port ? String(s.port) : '–'),
          h('td', { class: s.healthy ? '' : 'unhealthy' }, s.healthy ? 'healthy' : 'unhealthy'),
          h('td', {}, typeof s.connections === 'number' ? String(s.connections) : '–')))))),
      drain && h('div', { class: 'actions' }, drain));
  }

  async function refreshDepth() {
    const q = await api('GET', '/queue');
    if (!q.ok) { depth.textContent = problem(q); return; }
    const messagesWaiting = q.data.messages.length;
    const recipients = q.data.messages.reduce((/** @type {number} */ n, /** @type {any} */ m) => n + m.recipients.filter((/** @type {any} */ r) => r.state === 'queued').length, 0);
    fill(depth, `Queue depth: ${messagesWaiting} ${messagesWaiting === 1 ? 'message' : 'messages'}, ${recipients} ${recipients === 1 ? 'recipient' : 'recipients'} waiting. `, h('a', { href: '#queue' }, 'Open the queue'));
  }

  async function refresh() {
    const r = await api('GET', '/nodes');
    if (!r.ok) { msg.fail(problem(r)); return; }
    fill(list, ...r.data.nodes.map(nodeCard));
    if (r.data.nodes.length === 0) fill(list, h('p', {}, 'No member is registered.'));
    await refreshDepth();
  }

  return {
    title: 'Cluster',
    on: ['nodes', 'queue'],
    render() {
      // Connections and heartbeat ages change without events: re-read every few seconds while shown.
      if (poll) clearInterval(poll);
      poll = setInterval(() => { if (current === sections.cluster) refresh().catch(() => undefined); else if (poll) { clearInterval(poll); poll = null; } }, 3000);
      return [depth, msg.el, list];
    },
    refresh,
  };
})();

// ---- domains

sections.domains = (() => {
  const list = h('div');
  const msg = messages();
  /** @type {Me} */
  let me = { role: 'user', domain: null, subject: null };

  async function refresh() {
    const r = await api('GET', '/domains');
    if (!r.ok) { msg.fail(problem(r)); return; }
    const rows = r.data.domains.map((/** @type {any} */ d) => h('tr', {},
      h('th', { scope: 'row' }, d.name),
      h('td', {}, new Date(d.createdAt).toISOString().slice(0, 10)),
      h('td', {}, h('div', { class: 'actions' },
        h('a', { href: `#users/${encode(d.name)}` }, `Users of ${d.name}`),
        me.role === 'admin' && h('a', { href: `#dns/${encode(d.name)}` }, `DNS records of ${d.name}`),
        me.role === 'admin' && h('button', {
          type: 'button', 'data-key': `del-${d.name}`,
          onclick: (/** @type {Event} */ e) => {
            if (!confirm(`Remove the domain ${d.name}? (Refused while it has users or aliases.)`)) return;
            void busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
              const del = await api('DELETE', `/domains/${encode(d.name)}`);
              if (del.ok) msg.ok(`${d.name} removed.`); else msg.fail(problem(del));
              await refresh();
            });
          },
        }, `Remove ${d.name}`)))));
    fill(list, rows.length === 0 ? h('p', {}, 'No local domains yet.') : tableWrap(h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Domain'), h('th', { scope: 'col' }, 'Added'), h('th', { scope: 'col' }, 'More'))),
      h('tbody', {}, ...rows))));
  }

  return {
    title: 'Domains',
    on: ['directory'],
    render(who) {
      me = who;
      const name = /** @type {HTMLInputElement} */ (h('input', { type: 'text', name: 'domain', required: true, autocomplete: 'off', placeholder: 'example.org' }));
      const form = h('form', {
        class: 'inline',
        onsubmit: (/** @type {SubmitEvent} */ e) => {
          e.preventDefault();
          void busy(/** @type {HTMLButtonElement} */ (e.submitter), async () => {
            const r = await api('POST', '/domains', { body: { name: name.value.trim() } });
            if (r.ok) { msg.ok(`${r.data.name} added.`); name.value = ''; } else msg.fail(problem(r));
            await refresh();
          });
        },
      }, field('New domain', name), h('button', { type: 'submit' }, 'Add domain'));
      return [msg.el, list, me.role === 'admin' && h('h2', {}, 'Add a domain'), me.role === 'admin' && form].filter(Boolean).map((x) => /** @type {HTMLElement} */ (x));
    },
    refresh,
  };
})();

// ---- users

sections.users = (() => {
  const list = h('div');
  const editor = h('div');
  const msg = messages();
  let filter = '';

  /** @param {string} address */
  async function openEditor(address) {
    const r = await api('GET', `/users/${encode(address)}`);
    if (!r.ok) { msg.fail(problem(r)); return; }
    const u = r.data;
    const etag = r.etag;
    const edMsg = messages();
    const password = /** @type {HTMLInputElement} */ (h('input', { type: 'password', autocomplete: 'new-password' }));
    const quota = /** @type {HTMLInputElement} */ (h('input', { type: 'number', min: '0', step: 'any', value: String(u.quotaBytes / MiB) }));
    const customer = /** @type {HTMLInputElement} */ (h('input', { type: 'text', value: u.customerId }));
    const role = /** @type {HTMLSelectElement} */ (h('select', {}, ...['user', 'domain-admin', 'admin'].map((x) => h('option', { value: x, selected: x === u.role }, x))));
    const enabled = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', checked: u.enabled }));
    const reload = h('button', { type: 'button', onclick: () => { void openEditor(address); } }, `Reload ${u.address}`);
    const form = h('form', {
      class: 'stack',
      onsubmit: (/** @type {SubmitEvent} */ e) => {
        e.preventDefault();
        void busy(/** @type {HTMLButtonElement} */ (e.submitter), async () => {
          /** @type {Record<string, unknown>} */
          const body = {};
          const q = Math.round(Number(quota.value) * MiB);
          if (!Number.isFinite(q) || q < 0) { edMsg.fail('The quota is a number of MiB, 0 for unlimited.'); return; }
          if (q !== u.quotaBytes) body.quotaBytes = q;
          if (customer.value !== u.customerId) body.customerId = customer.value;
          if (role.value !== u.role) body.role = role.value;
          if (enabled.checked !== u.enabled) body.enabled = enabled.checked;
          if (password.value !== '') body.password = password.value;
          if (Object.keys(body).length === 0) { edMsg.ok('Nothing changed.'); return; }
          const saved = await api('PATCH', `/users/${encode(u.address)}`, { body, ifMatch: etag });
          if (saved.status === 412) {
            edMsg.fail(`Not saved: someone else changed ${u.address} after you opened it. Reload it to see the current values, then make your change again.`, reload);
            return;
          }
          if (!saved.ok) { edMsg.fail(problem(saved)); return; }
          msg.ok(`Saved ${u.address}.`);
          fill(editor);
          await refresh();
          focusKey(list, `edit-${u.address}`);
        });
      },
    },
    field('New password (leave empty to keep the current one)', password),
    field('Quota in MiB (0 for unlimited)', quota),
    field('Customer id', customer),
    field('Role', role),
    field('Enabled', enabled),
    h('p', { class: 'actions' },
      h('button', { type: 'submit' }, 'Save changes'),
      h('button', { type: 'button', onclick: () => { fill(editor); focusKey(list, `edit-${u.address}`); } }, 'Cancel'),
      h('button', {
        type: 'button',
        onclick: (/** @type {Event} */ e) => {
          if (!confirm(`Remove ${u.address} with all of its mail?`)) return;
          void busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
            const del = await api('DELETE', `/users/${encode(u.address)}`, { ifMatch: etag });
            if (del.status === 412) { edMsg.fail(`Not removed: someone else changed ${u.address} after you opened it. Reload it and decide again.`, reload); return; }
            if (!del.ok) { edMsg.fail(problem(del)); return; }
            msg.ok(`${u.address} removed.`);
            fill(editor);
            await refresh();
          });
        },
      }, `Remove ${u.address}`)));
    const heading = h('h2', { tabindex: '-1' }, `Edit ${u.address}`);
    fill(editor, h('section', { class: 'panel', 'aria-label': `Edit ${u.address}` }, heading,
      h('p', {}, `Stores ${size(u.usedBytes)}; added ${new Date(u.createdAt).toISOString().slice(0, 10)}.`), edMsg.el, form));
    heading.focus();
  }

  async function refresh() {
    const r = await api('GET', `/users${filter ? `?domain=${encode(filter)}` : ''}`);
    if (!r.ok) { msg.fail(problem(r)); return; }
    const rows = r.data.users.map((/** @type {any} */ u) => h('tr', {},
      h('th', { scope: 'row' }, u.address),
      h('td', {}, u.role),
      h('td', {}, u.enabled ? 'yes' : 'no'),
      h('td', {}, u.quotaBytes === 0 ? 'unlimited' : size(u.quotaBytes)),
      h('td', {}, size(u.usedBytes)),
      h('td', {}, h('button', { type: 'button', 'data-key': `edit-${u.address}`, onclick: () => { void openEditor(u.address); } }, `Edit ${u.address}`))));
    fill(list, rows.length === 0 ? h('p', {}, filter ? `${filter} has no users.` : 'No users yet.') : tableWrap(h('table', {},
      h('thead', {}, h('tr', {}, ...['Address', 'Role', 'Enabled', 'Quota', 'Stored', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows))));
  }

  return {
    title: 'Users',
    on: ['directory'],
    render(me, arg) {
      filter = arg;
      fill(editor);
      const domain = arg || me.domain || 'example.org';
      const address = /** @type {HTMLInputElement} */ (h('input', { type: 'email', required: true, autocomplete: 'off', placeholder: `name@${domain}` }));
      const password = /** @type {HTMLInputElement} */ (h('input', { type: 'password', required: true, autocomplete: 'new-password' }));
      const quota = /** @type {HTMLInputElement} */ (h('input', { type: 'number', min: '0', step: 'any', value: '0' }));
      const roles = me.role === 'admin' ? ['user', 'domain-admin', 'admin'] : ['user', 'domain-admin'];
      const role = /** @type {HTMLSelectElement} */ (h('select', {}, ...roles.map((x) => h('option', { value: x }, x))));
      const form = h('form', {
        class: 'stack',
        onsubmit: (/** @type {SubmitEvent} */ e) => {
          e.preventDefault();
          void busy(/** @type {HTMLButtonElement} */ (e.submitter), async () => {
            const q = Math.round(Number(quota.value) * MiB);
            if (!Number.isFinite(q) || q < 0) { msg.fail('The quota is a number of MiB, 0 for unlimited.'); return; }
            const r = await api('POST', '/users', { body: { address: address.value.trim(), password: password.value, quotaBytes: q, role: role.value } });
            if (!r.ok) { msg.fail(problem(r)); return; }
            msg.ok(`${r.data.address} created; it can sign in now.`);
            address.value = '';
            password.value = '';
            await refresh();
          });
        },
      },
      field('New user address', address),
      field('Password', password),
      field('Quota in MiB (0 for unlimited)', quota),
      field('Role', role),
      h('p', {}, h('button', { type: 'submit' }, 'Create user')));
      return [
        h('p', {}, filter ? `Users of ${filter}. ` : '', filter ? h('a', { href: '#users' }, 'All users') : ''),
        msg.el, list, editor, h('h2', {}, 'Create a user'), form,
      ];
    },
    refresh,
  };
})();

// ---- aliases

sections.aliases = (() => {
  const list = h('div');
  const msg = messages();

  /** @param {string} text */
  const targetsOf = (text) => text.split(/[\s,;]+/).map((t) => t.trim()).filter(Boolean);

  /** @param {any} a @param {HTMLElement} row */
  async function edit(a, row) {
    const r = await api('GET', `/aliases/${encode(a.address)}`);
    if (!r.ok) { msg.fail(problem(r)); return; }
    const etag = r.etag;
    const targets = /** @type {HTMLTextAreaElement} */ (h('textarea', {}));
    targets.value = r.data.targets.join('\n');
    const cell = h('td', { colspan: '3' }, h('form', {
      class: 'stack',
      onsubmit: (/** @type {SubmitEvent} */ e) => {
        e.preventDefault();
        void busy(/** @type {HTMLButtonElement} */ (e.submitter), async () => {
          const put = await api('PUT', `/aliases/${encode(a.address)}`, { body: { targets: targetsOf(targets.value) }, ifMatch: etag });
          if (put.status === 412) { msg.fail(`Not saved: someone else changed ${a.address} after you opened it; open it again.`); await refresh(); return; }
          if (!put.ok) { msg.fail(problem(put)); return; }
          msg.ok(`Saved ${a.address}.`);
          await refresh();
        });
      },
    }, field(`Targets of ${a.address} (one per line)`, targets), h('p', { class: 'actions' }, h('button', { type: 'submit' }, 'Save alias'), h('button', { type: 'button', onclick: () => { void refresh(); } }, 'Cancel'))));
    row.replaceChildren(cell);
    targets.focus();
  }

  async function refresh() {
    const r = await api('GET', '/aliases');
    if (!r.ok) { msg.fail(problem(r)); return; }
    const rows = r.data.aliases.map((/** @type {any} */ a) => {
      const row = h('tr', {});
      row.append(
        h('th', { scope: 'row' }, a.address),
        h('td', {}, a.targets.join(', ')),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', 'data-key': `edit-${a.address}`, onclick: () => { void edit(a, row); } }, `Edit ${a.address}`),
          h('button', {
            type: 'button', 'data-key': `del-${a.address}`,
            onclick: (/** @type {Event} */ e) => {
              if (!confirm(`Remove the alias ${a.address}?`)) return;
              void busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
                const del = await api('DELETE', `/aliases/${encode(a.address)}`);
                if (del.ok) msg.ok(`${a.address} removed.`); else msg.fail(problem(del));
                await refresh();
              });
            },
          }, `Remove ${a.address}`))));
      return row;
    });
    fill(list, rows.length === 0 ? h('p', {}, 'No aliases.') : tableWrap(h('table', {},
      h('thead', {}, h('tr', {}, ...['Alias', 'Delivers to', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows))));
  }

  return {
    title: 'Aliases',
    on: ['directory'],
    render() {
      const address = /** @type {HTMLInputElement} */ (h('input', { type: 'text', required: true, autocomplete: 'off', placeholder: 'info@example.org or @example.org' }));
      const targets = /** @type {HTMLTextAreaElement} */ (h('textarea', { required: true }));
      const form = h('form', {
        class: 'stack',
        onsubmit: (/** @type {SubmitEvent} */ e) => {
          e.preventDefault();
          void busy(/** @type {HTMLButtonElement} */ (e.submitter), async () => {
            const r = await api('POST', '/aliases', { body: { address: address.value.trim(), targets: targetsOf(targets.value) } });
            if (!r.ok) { msg.fail(problem(r)); return; }
            msg.ok(`${r.data.address} added.`);
            address.value = '';
            targets.value = '';
            await refresh();
          });
        },
      }, field('Alias address ("@domain" for the catch-all)', address), field('Targets (one per line)', targets), h('p', {}, h('button', { type: 'submit' }, 'Add alias')));
      return [msg.el, list, h('h2', {}, 'Add an alias'), form];
    },
    refresh,
  };
})();

// ---- forwards

sections.forwards = (() => {
  const list = h('div');
  const msg = messages();

  async function refresh() {
    const r = await api('GET', '/forwards');
    if (!r.ok) { msg.fail(problem(r)); return; }
    const rows = r.data.forwards.map((/** @type {any} */ f) => {
      const path = `/forwards/${encode(f.address)}/${encode(f.target)}`;
      return h('tr', {},
        h('th', { scope: 'row' }, f.address),
        h('td', {}, f.target),
        h('td', {}, f.keepCopy ? 'yes' : 'no'),
        h('td', {}, h('div', { class: 'actions' },
          h('button', {
            type: 'button', 'data-key': `copy-${f.address}-${f.target}`,
            onclick: (/** @type {Event} */ e) => busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
              const p = await api('PATCH', path, { body: { keepCopy: !f.keepCopy } });
              if (p.ok) msg.ok(`${f.address} ${p.data.keepCopy ? 'keeps' : 'no longer keeps'} a copy.`); else msg.fail(problem(p));
              await refresh();
            }),
          }, f.keepCopy ? `Stop keeping copies for ${f.address} to ${f.target}` : `Keep copies for ${f.address} to ${f.target}`),
          h('button', {
            type: 'button', 'data-key': `del-${f.address}-${f.target}`,
            onclick: (/** @type {Event} */ e) => busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
              const del = await api('DELETE', path);
              if (del.ok) msg.ok(`The forward of ${f.address} to ${f.target} is removed.`); else msg.fail(problem(del));
              await refresh();
            }),
          }, `Remove forward of ${f.address} to ${f.target}`))));
    });
    fill(list, rows.length === 0 ? h('p', {}, 'No forwards.') : tableWrap(h('table', {},
      h('thead', {}, h('tr', {}, ...['User', 'Forwarded to', 'Keeps a copy', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows))));
  }

  return {
    title: 'Forwards',
    on: ['directory'],
    render() {
      const address = /** @type {HTMLInputElement} */ (h('input', { type: 'email', required: true, autocomplete: 'off' }));
      const target = /** @type {HTMLInputElement} */ (h('input', { type: 'email', required: true, autocomplete: 'off' }));
      const keep = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox' }));
      const form = h('form', {
        class: 'stack',
        onsubmit: (/** @type {SubmitEvent} */ e) => {
          e.preventDefault();
          void busy(/** @type {HTMLButtonElement} */ (e.submitter), async () => {
            const r = await api('POST', '/forwards', { body: { address: address.value.trim(), target: target.value.trim(), keepCopy: keep.checked } });
            if (!r.ok) { msg.fail(problem(r)); return; }
            msg.ok(`${r.data.address} now forwards to ${r.data.target}.`);
            address.value = '';
            target.value = '';
            keep.checked = false;
            await refresh();
          });
        },
      }, field('User whose mail is forwarded', address), field('Forward to', target), field('Keep a copy in the INBOX', keep), h('p', {}, h('button', { type: 'submit' }, 'Add forward')));
      return [msg.el, list, h('h2', {}, 'Add a forward'), form];
    },
    refresh,
  };
})();

// ---- queue

sections.queue = (() => {
  const list = h('div');
  const msg = messages();

  /** @param {string} domain @param {HTMLButtonElement | null} button */
  function flush(domain, button) {
    return busy(button, async () => {
      const r = await api('POST', '/queue/flush', { body: domain ? { domain } : {} });
      if (r.ok) msg.ok(`${r.data.due} ${r.data.due === 1 ? 'recipient is' : 'recipients are'} due now${domain ? ` for ${domain}` : ''}; the workers try them within a second.`);
      else msg.fail(problem(r));
      await refresh();
    });
  }

  async function refresh() {
    const r = await api('GET', '/queue');
    if (!r.ok) { msg.fail(problem(r)); return; }
    const rows = r.data.messages.map((/** @type {any} */ m) => h('tr', {},
      h('th', { scope: 'row' }, m.id),
      h('td', {}, m.sender || '<> (a bounce)'),
      h('td', {}, size(m.size)),
      h('td', {}, ago(m.createdAt)),
      h('td', {}, h('ul', {}, ...m.recipients.map((/** @type {any} */ rc) => h('li', {},
        `${rc.address}: ${rc.state}, ${rc.attempts} ${rc.attempts === 1 ? 'attempt' : 'attempts'}`,
        rc.state === 'queued' ? `, next ${new Date(rc.nextAttemptAt).toISOString().slice(0, 19).replace('T', ' ')} UTC` : '',
        rc.lastError ? ` (${rc.lastError})` : '')))),
      h('td', {}, h('button', {
        type: 'button', 'data-key': `del-${m.id}`,
        onclick: (/** @type {Event} */ e) => {
          if (!confirm(`Delete the queued message ${m.id} for all its recipients? It will not be delivered.`)) return;
          void busy(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
            const del = await api('DELETE', `/queue/${encode(m.id)}`);
            if (del.ok) msg.ok(`${m.id} deleted from the queue.`); else msg.fail(problem(del));
            await refresh();
          });
        },
      }, `Delete ${m.id}`))));
    fill(list, rows.length === 0 ? h('p', {}, 'The queue is empty.') : tableWrap(h('table', {},
      h('caption', {}, `${rows.length} queued ${rows.length === 1 ? 'message' : 'messages'}`),
      h('thead', {}, h('tr', {}, ...['Id', 'From', 'Size', 'Queued', 'Recipients', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows))));
  }

  return {
    title: 'Queue',
    on: ['queue'],
    render() {
      const domain = /** @type {HTMLInputElement} */ (h('input', { type: 'text', required: true, autocomplete: 'off', placeholder: 'example.net' }));
      const all = h('button', { type: 'button', onclick: (/** @type {Event} */ e) => flush('', /** @type {HTMLButtonElement} */ (e.currentTarget)) }, 'Flush the whole queue');
      const one = h('form', {
        class: 'inline',
        onsubmit: (/** @type {SubmitEvent} */ e) => { e.preventDefault(); void flush(domain.value.trim(), /** @type {HTMLButtonElement} */ (e.submitter)); },
      }, field('Recipient domain', domain), h('button', { type: 'submit' }, 'Flush this domain'));
      return [h('div', { class: 'actions' }, all), one, msg.el, list];
    },
    refresh,
  };
})();

// ---- DNS

sections.dns = (() => {
  const out = h('div');
  const msg = messages();
  /** @type {HTMLSelectElement} */
  let select = /** @type {HTMLSelectElement} */ (h('select'));

  /** @param {string} domain */
  async function show(domain) {
    if (!domain) return;
    const r = await api('GET', `/dns/zones/${encode(domain)}`);
    if (!r.ok) { fill(out); msg.fail(problem(r)); return; }
    msg.clear();
    fill(out,
      h('h2', {}, `Records to publish for ${r.data.domain}`),
      r.data.problems.length > 0 && h('ul', { class: 'error' }, ...r.data.problems.map((/** @type {string} */ p) => h('li', {}, p))),
      h('pre', { class: 'zone', tabindex: '0', 'aria-label': `Zone of ${r.data.domain}` }, r.data.text));
  }

  async function refresh() {
    const r = await api('GET', '/domains');
    if (!r.ok) { msg.fail(problem(r)); return; }
    const chosen = select.value || decodeURIComponent(location.hash.split('/')[1] ?? '');
    fill(select, ...r.data.domains.map((/** @type {any} */ d) => h('option', { value: d.name, selected: d.name === chosen }, d.name)));
    await show(select.value);
  }

  return {
    title: 'DNS',
    on: ['directory', 'settings'],
    render() {
      select = /** @type {HTMLSelectElement} */ (h('select', {}));
      const form = h('form', {
        class: 'inline',
        onsubmit: (/** @type {SubmitEvent} */ e) => { e.preventDefault(); void busy(/** @type {HTMLButtonElement} */ (e.submitter), () => show(select.value)); },
      }, field('Domain', select), h('button', { type: 'submit' }, 'Show records'));
      fill(out);
      return [h('p', {}, 'The records a local domain needs in public DNS (MX, SPF, the name servers), for operators who run their own name servers.'), form, msg.el, out];
    },
    refresh,
  };
})();

// ------------------------------------------------------------ navigation and live updates

/** @type {Me} */
let me = { role: 'user', domain: null, subject: null };
/** @type {string[]} */
let allowed = [];

function route() {
  const [name = '', arg = ''] = location.hash.replace(/^#/, '').split('/');
  const key = allowed.includes(name) ? name : allowed[0];
  if (!key) return;
  const section = sections[key];
  current = section;
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#${key}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const heading = h('h1', { tabindex: '-1' }, section.title);
  fill(main, heading, ...section.render(me, decodeURIComponent(arg)));
  document.title = `${section.title} · Rookery admin`;
  // Keyboard and screen-reader users land on the section they chose.
  if (location.hash) heading.focus();
  section.refresh?.().catch(() => { live.textContent = 'The node could not be reached; showing what was last read.'; });
}

function connectEvents() {
  const events = new EventSource('/api/v1/events');
  events.addEventListener('open', () => { live.textContent = 'Live: changes made on any node show up here.'; });
  events.addEventListener('error', () => { live.textContent = 'Live updates interrupted; reconnecting…'; });
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const pending = new Map();
  for (const name of ['directory', 'settings', 'nodes', 'queue', 'resync']) {
    events.addEventListener(name, () => {
      const section = current;
      if (!section || !section.refresh || (name !== 'resync' && !(section.on ?? []).includes(name))) return;
      // A burst of notices makes one re-read.
      clearTimeout(pending.get(name));
      pending.set(name, setTimeout(() => { section.refresh?.().catch(() => undefined); }, 150));
    });
  }
}

async function start() {
  const r = await api('GET', '/me');
  if (!r.ok) {
    fill(main, h('h1', {}, 'Console'), h('p', { class: 'error', role: 'alert' }, problem(r)));
    return;
  }
  me = r.data;
  allowed = me.role === 'admin' ? ['cluster', 'domains', 'users', 'aliases', 'forwards', 'queue', 'dns']
    : me.role === 'domain-admin' ? ['users', 'aliases', 'forwards', 'domains'] : [];
  if (allowed.length === 0) {
    fill(main, h('h1', {}, 'Console'), h('p', { class: 'error', role: 'alert' }, 'Your role administers nothing.'));
    return;
  }
  fill(nav, h('ul', {}, ...allowed.map((k) => h('li', {}, h('a', { href: `#${k}` }, sections[k].title)))));
  window.addEventListener('hashchange', route);
  route();
  connectEvents();
}

start().catch((err) => { live.textContent = `The console could not start: ${err instanceof Error ? err.message : String(err)}`; });
