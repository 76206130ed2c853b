/**
 * Self-care at /settings for a signed-in webmail user: the password, the
 * forwards, the vacation auto-reply, and the Apple configuration profile.
 * The same session (a store token, valid on every node), page frame and
 * CSRF rule as the webmail: every post carries the session's token, and a
 * post whose Origin names another site is refused. No inline script; the
 * pages work with none at all.
 *
 *   GET  /settings                     the page
 *   POST /settings/password            current + new + repeated
 *   POST /settings/forwards            add (target, keep a copy)
 *   POST /settings/forwards/remove     remove one
 *   POST /settings/forwards/keep-copy  switch keeping a copy
 *   POST /settings/vacation            on/off, subject, text, dates, period
 *   GET  /settings/apple.mobileconfig  the Apple profile (no password inside)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import { isStoreError } from '../../store/errors.js';
import type { Forward, Store, VacationSettings } from '../../store/types.js';
import { defaultVacationPeriodDays, maxVacationBodyChars, maxVacationPeriodDays, maxVacationSubjectChars } from '../../store/vacation-rules.js';
import type { Autoconfig } from '../autoconfig/index.js';
import { HttpFailure, readForm } from '../forms.js';
import { redirect, refuseForeignOrigin, sendHtml, type Headers } from '../pages.js';
import { escapeHtml, page, csrfField, topBar } from '../webmail/html.js';
import { cookieHeader, createSession, sameSecret, sessionCookie, sessionLifetimeMs, sessionOf, type WebSession } from '../webmail/session.js';

/** The login throttle the sign-in form uses: a wrong current password counts as a failed login. */
export interface PasswordThrottle {
  admit(address: string, account?: string): Promise<void>;
  fail(address: string, account?: string): Promise<void>;
}

export interface SelfCareOptions {
  store: Store;
  logger: Logger;
  /** Served over HTTPS: cookies get Secure. */
  secure: boolean;
  autoconfig: Autoconfig;
  throttle?: PasswordThrottle;
}

export interface SelfCare {
  /** Answers the request if it is one of /settings; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<boolean>;
}

/** The pages need no script: styles and forms from the node only, nothing else. */
export const selfCareCsp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const dayMs = 86_400_000;

const notices: Record<string, string> = {
  password: 'Your password was changed. Other sessions were signed out; mail apps need the new password.',
  'forward-added': 'The forward was added.',
  'forward-removed': 'The forward was removed.',
  'forward-changed': 'The forward was changed.',
  vacation: 'The auto-reply settings were saved.',
};

/** Which form an error belongs to, so it is shown next to that form. */
type Section = 'password' | 'forwards' | 'vacation';

interface Problem {
  section: Section;
  message: string;
}

function sendPage(res: ServerResponse, status: number, html: string, headers: Headers = {}): void {
  sendHtml(res, status, html, selfCareCsp, headers);
}

/** YYYY-MM-DD of a UTC day, for a date input. */
function dayText(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** A date input's value as the start of that UTC day; null when empty. */
function parseDay(value: string | null, label: string): Date | null {
  const v = (value ?? '').trim();
  if (v === '') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || !Number.isFinite(d.getTime()) || dayText(d) !== v) throw new HttpFailure(400, `The ${label} date must be a day written YYYY-MM-DD.`);
  return d;
}

/** The vacation a posted form asks for: dates are whole UTC days, the last day included. */
export function vacationFromForm(form: URLSearchParams): VacationSettings {
  const periodText = (form.get('period') ?? '').trim();
  const periodDays = periodText === '' ? defaultVacationPeriodDays : Number(periodText);
  const lastDay = parseDay(form.get('end'), 'last');
  return {
    enabled: form.get('enabled') === 'on',
    subject: form.get('subject') ?? '',
    body: form.get('body') ?? '',
    startsAt: parseDay(form.get('start'), 'first'),
    endsAt: lastDay ? new Date(lastDay.getTime() + dayMs) : null,
    periodDays,
  };
}

export function createSelfCare(opts: SelfCareOptions): SelfCare {
  const { store, logger } = opts;

  const forwardsOf = async (address: string): Promise<Forward[]> => {
    const domain = address.slice(address.lastIndexOf('@') + 1);
    return (await store.directory.listForwards(domain)).filter((f) => f.address === address);
  };

  const settingsPage = async (res: ServerResponse, session: WebSession, status: number, notice: string | null, problem: Problem | null,
    vacationDraft: VacationSettings | null = null): Promise<void> => {
    const user = session.user;
    const forwards = await forwardsOf(user.address);
    const vacation = vacationDraft ?? (await store.vacation.get(user.id)) ?? {
      enabled: false, subject: '', body: '', startsAt: null, endsAt: null, periodDays: defaultVacationPeriodDays,
    };
    const error = (section: Section): string =>
      problem?.section === section ? `<p class="error" role="alert" id="${section}-error">${escapeHtml(problem.message)}</p>` : '';
    const described = (section: Section): string => (problem?.section === section ? ` aria-describedby="${section}-error"` : '');
    const forwardRows = forwards.map((f) => `<li>
<span>${escapeHtml(f.target)}</span> (${f.keepCopy ? 'a copy is kept here' : 'no copy is kept here'})
<form method="post" action="/settings/forwards/keep-copy" class="inline">${csrfField(session)}<input type="hidden" name="target" value="${escapeHtml(f.target)}"><input type="hidden" name="keepCopy" value="${f.keepCopy ? 'off' : 'on'}"><button type="submit">${f.keepCopy ? 'Stop keeping a copy' : 'Keep a copy'} of mail forwarded to ${escapeHtml(f.target)}</button></form>
<form method="post" action="/settings/forwards/remove" class="inline">${csrfField(session)}<input type="hidden" name="target" value="${escapeHtml(f.target)}"><button type="submit">Remove the forward to ${escapeHtml(f.target)}</button></form>
</li>`).join('\n');
    const lastDay = vacation.endsAt ? dayText(new Date(vacation.endsAt.getTime() - dayMs)) : '';
    sendPage(res, status, page('Settings', `${topBar(session, 'settings')}
<main id="main" class="settings">
<h1>Settings</h1>
${notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : ''}

<section aria-labelledby="password-heading">
<h2 id="password-heading">Password</h2>
${error('password')}
<form method="post" action="/settings/password">
${csrfField(session)}
<input type="email" name="username" autocomplete="username" value="${escapeHtml(user.address)}" hidden readonly>
<label for="current-password">Current password</label>
<input type="password" id="current-password" name="current" autocomplete="current-password" required${described('password')}>
<label for="new-password">New password</label>
<input type="password" id="new-password" name="new" autocomplete="new-password" required maxlength="1024"${described('password')}>
<label for="repeat-password">New password again</label>
<input type="password" id="repeat-password" name="repeat" autocomplete="new-password" required maxlength="1024">
<p><button type="submit">Change the password</button></p>
</form>
</section>

<section aria-labelledby="forwards-heading">
<h2 id="forwards-heading">Forwards</h2>
<p>Mail to ${escapeHtml(user.address)} is also sent to these addresses.</p>
${error('forwards')}
${forwards.length > 0 ? `<ul class="forwards">\n${forwardRows}\n</ul>` : '<p>No forwards.</p>'}
<form method="post" action="/settings/forwards">
${csrfField(session)}
<label for="forward-target">Forward to</label>
<input type="email" id="forward-target" name="target" required autocomplete="off"${described('forwards')}>
<label class="check"><input type="checkbox" name="keepCopy" checked> Keep a copy here too</label>
<p><button type="submit">Add the forward</button></p>
</form>
</section>

<section aria-labelledby="vacation-heading">
<h2 id="vacation-heading">Auto-reply (vacation)</h2>
<p>While it is on, people who write to you get this answer, at most once per reply period each. Mailing lists, bulk mail and automatic mail get none.</p>
${error('vacation')}
<form method="post" action="/settings/vacation">
${csrfField(session)}
<label class="check"><input type="checkbox" id="vacation-enabled" name="enabled"${vacation.enabled ? ' checked' : ''}> Send automatic replies</label>
<label for="vacation-subject">Subject (empty: "Auto:" and the subject of the message answered)</label>
<input type="text" id="vacation-subject" name="subject" maxlength="${maxVacationSubjectChars}" value="${escapeHtml(vacation.subject)}">
<label for="vacation-body">Text</label>
<textarea id="vacation-body" name="body" maxlength="${maxVacationBodyChars}"${described('vacation')}>${escapeHtml(vacation.body)}</textarea>
<label for="vacation-start">First day (optional, UTC)</label>
<input type="date" id="vacation-start" name="start" value="${vacation.startsAt ? dayText(vacation.startsAt) : ''}">
<label for="vacation-end">Last day (optional, UTC)</label>
<input type="date" id="vacation-end" name="end" value="${lastDay}">
<label for="vacation-period">Reply period in days (one reply per sender per period)</label>
<input type="number" id="vacation-period" name="period" min="1" max="${maxVacationPeriodDays}" step="1" required value="${vacation.periodDays}">
<p><button type="submit">Save the auto-reply</button></p>
</form>
</section>

<section aria-labelledby="apps-heading">
<h2 id="apps-heading">Mail apps</h2>
<p>Thunderbird and Outlook find the servers by themselves: give them your address and password.</p>
<p><a href="/settings/apple.mobileconfig" download>Download the profile for Apple Mail (iPhone, iPad, Mac)</a>; it asks for your password when it is installed.</p>
</section>
</main>`));
  };

  /** The form, after its CSRF token and origin were checked. */
  const checkedForm = async (req: IncomingMessage, session: WebSession): Promise<URLSearchParams> => {
    refuseForeignOrigin(req);
    const form = (await readForm(req)).fields;
    if (!sameSecret(form.get('csrf') ?? '', session.csrf)) throw new HttpFailure(403, 'The form is stale or came from another site; reload the page and try again.');
    return form;
  };

  /** A store refusal as a sentence for the form, or rethrown when it is not the user's to fix. */
  const refusal = (err: unknown, section: Section): Problem => {
    if (isStoreError(err) && ['bad-parameters', 'exists', 'not-found'].includes(err.category)) {
      return { section, message: `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`.replace(/\.\.$/, '.') };
    }
    throw err;
  };

  const changePassword = async (req: IncomingMessage, res: ServerResponse, session: WebSession, client: string): Promise<void> => {
    const form = await checkedForm(req, session);
    const address = session.user.address;
    const fresh = form.get('new') ?? '';
    if (fresh !== (form.get('repeat') ?? '')) return settingsPage(res, session, 400, null, { section: 'password', message: 'The two new passwords differ.' });
    try {
      await opts.throttle?.admit(client, address);
    } catch (err) {
      return settingsPage(res, session, 429, null, { section: 'password', message: (err as Error).message });
    }
    if (!(await store.directory.authenticate(address, form.get('current') ?? ''))) {
      await opts.throttle?.fail(client, address);
      logger.info({ client, user: address }, 'settings: wrong current password');
      return settingsPage(res, session, 400, null, { section: 'password', message: 'The current password is wrong.' });
    }
    try {
      await store.directory.updateUser(address, { password: fresh });
    } catch (err) {
      return settingsPage(res, session, 400, null, refusal(err, 'password'));
    }
    // Whoever knew the old password may hold a session: every session of the user ends, this one is renewed.
    for (const t of await store.tokens.list({ kind: 'session' })) {
      if (t.subject === address.toLowerCase() || t.subject === address) await store.tokens.remove(t.id).catch(() => undefined);
    }
    const text = await createSession(store, session.user);
    logger.info({ client, user: address }, 'settings: password changed');
    redirect(res, '/settings?done=password', { 'Set-Cookie': cookieHeader(sessionCookie, text, { secure: opts.secure, maxAgeS: Math.floor(sessionLifetimeMs / 1000) }) });
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const session = await sessionOf(req, store);
    if (!session) {
      if (method === 'GET') return redirect(res, '/');
      throw new HttpFailure(401, 'You are not signed in (or the session has ended).');
    }
    const user = session.user;
    if (path === '/settings' && method === 'GET') return settingsPage(res, session, 200, notices[url.searchParams.get('done') ?? ''] ?? null, null);
    if (path === '/settings/apple.mobileconfig' && method === 'GET') {
      let profile: Buffer;
      try {
        profile = await opts.autoconfig.appleProfile(user.address);
      } catch (err) {
        throw new HttpFailure(503, (err as Error).message);
      }
      const name = `${user.address.replace(/[^A-Za-z0-9@._-]/g, '_')}.mobileconfig`;
      res.writeHead(200, {
        'Content-Type': 'application/x-apple-aspen-config',
        'Content-Disposition': `attachment; filename="${name}"`,
        'Content-Length': String(profile.length),
        'Content-Security-Policy': "default-src 'none'; sandbox",
        'Cache-Control': 'no-store',
      });
      res.end(profile);
      return;
    }
    if (method !== 'POST') throw new HttpFailure(405, `${method} is not allowed on ${path}.`);
    if (path === '/settings/password') return changePassword(req, res, session, client);
    if (path === '/settings/forwards') {
      const form = await checkedForm(req, session);
      try {
        await store.directory.addForward(user.address, (form.get('target') ?? '').trim(), form.get('keepCopy') === 'on');
      } catch (err) {
        return settingsPage(res, session, 400, null, refusal(err, 'forwards'));
      }
      return redirect(res, '/settings?done=forward-added');
    }
    if (path === '/settings/forwards/remove' || path === '/settings/forwards/keep-copy') {
      const form = await checkedForm(req, session);
      const target = form.get('target') ?? '';
      const found = (await forwardsOf(user.address)).find((f) => f.target === target);
      if (!found) return settingsPage(res, session, 404, null, { section: 'forwards', message: `There is no forward to ${target}.` });
      await store.directory.removeForward(user.address, found.target);
      if (path === '/settings/forwards/remove') return redirect(res, '/settings?done=forward-removed');
      await store.directory.addForward(user.address, found.target, form.get('keepCopy') === 'on');
      return redirect(res, '/settings?done=forward-changed');
    }
    if (path === '/settings/vacation') {
      const form = await checkedForm(req, session);
      let wanted: VacationSettings | null = null;
      try {
        wanted = vacationFromForm(form);
        await store.vacation.set(user.id, wanted);
      } catch (err) {
        const problem = err instanceof HttpFailure ? { section: 'vacation' as const, message: err.message } : refusal(err, 'vacation');
        return settingsPage(res, session, 400, null, problem, wanted);
      }
      logger.info({ user: user.address, enabled: wanted.enabled }, 'settings: vacation saved');
      return redirect(res, '/settings?done=vacation');
    }
    throw new HttpFailure(404, `There is nothing at ${path}.`);
  };

  return {
    async handle(req, res, url, client) {
      if (url.pathname !== '/settings' && !url.pathname.startsWith('/settings/')) return false;
      try {
        await route(req, res, url, client);
      } catch (err) {
        if (!(err instanceof HttpFailure)) throw err;
        if (res.headersSent) return true;
        sendPage(res, err.status, page('Problem', `<main id="main"><h1>That did not work</h1><p class="error" role="alert">${escapeHtml(err.message)}</p><p><a href="/settings">Back to the settings</a></p></main>`));
      }
      return true;
    },
  };
}
