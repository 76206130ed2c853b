/**
 * Cluster-wide settings: /api/v1/config and /api/v1/config/{key}, admin
 * only. What `rookery config list|set` (limits.*) and `rookery dns
 * settings|set|nodes` (dns.*) do, checked by the same functions the CLI
 * uses (limitSettingValue in src/config/limits.ts, checkDnsSetting in
 * src/dns/config.ts). Values are text, as the store keeps them and the CLI
 * takes them. DELETE puts a setting back to its default.
 *
 * Running nodes apply a changed limit at once (to sessions that start from
 * then on), except the queue worker's, read when a node starts; DNS servers
 * follow a change within a second. Every change reaches GET /api/v1/events as a "settings" event
 * through the store's change feed (the backends publish it), so nothing
 * here sends events itself.
 */
import { limitResetValue, limitSettingValue, limitSpecs, type LimitSpec } from '../../config/limits.js';
import { checkDnsSetting, dnsDomainSettingHelp, dnsSettingSpecs, nodeSetKey } from '../../dns/config.js';
import { ApiError } from '../errors.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { adminOnly, ok, route, type AnyRoute, type WebContext } from '../route.js';
import { s } from '../schema.js';
import { listOf, settingSchema } from './schemas.js';

type TakesEffect = 'node-start' | 'at-once';

/** One setting an operator may read and change here. */
interface SettingSpec {
  key: string;
  /** The default as text; null when it is computed (some DNS settings) or there is none (a node set). */
  default: string | null;
  description: string;
  choices?: readonly string[];
  takesEffect: TakesEffect;
  /** The text to keep in the store for what the operator gave; throws an Error with a sentence. */
  check(raw: string): string;
  /** True when a stored text is a value rather than a reset. */
  isSet(stored: string | undefined): boolean;
}

const limitPrefix = 'limits.';
const nodeSetPrefix = 'dns.nodes.';

function limitSpec(key: string): SettingSpec | null {
  const name = key.slice(limitPrefix.length);
  if (!key.startsWith(limitPrefix) || !Object.hasOwn(limitSpecs, name)) return null;
  const spec = (limitSpecs as Record<string, LimitSpec>)[name]!;
  return {
    key,
    default: String(spec.default),
    description: spec.description,
    ...(spec.choices ? { choices: spec.choices } : {}),
    takesEffect: spec.atRestart ? 'node-start' : 'at-once',
    check: (raw) => limitSettingValue(key, raw),
    isSet: (stored) => stored !== undefined && stored !== limitResetValue,
  };
}

/** DNS values are kept trimmed, and empty means the default (as `rookery dns set` and dnsConfigFromSettings treat them). */
const dnsIsSet = (stored: string | undefined): boolean => (stored?.trim() ?? '') !== '';

function dnsSpec(key: string): SettingSpec | null {
  const spec = dnsSettingSpecs.find((d) => d.key === key);
  if (!spec) return null;
  return {
    key,
    default: spec.default === '' ? null : spec.default,
    description: spec.description,
    takesEffect: 'at-once',
    check(raw) {
      const value = raw.trim();
      checkDnsSetting(key, value);
      return value;
    },
    isSet: dnsIsSet,
  };
}

/** A domain's node set, dns.nodes.DOMAIN (what `rookery dns nodes DOMAIN NODE,...` sets). */
function nodeSetSpec(domain: string): SettingSpec {
  const key = nodeSetKey(domain);
  return {
    key,
    default: null,
    description: dnsDomainSettingHelp.find((h) => h.key === 'dns.nodes.DOMAIN')!.description,
    takesEffect: 'at-once',
    check(raw) {
      // The form `rookery dns nodes` keeps: names separated by commas, no blanks.
      const value = raw.split(',').map((n) => n.trim()).filter(Boolean).join(',');
      if (value === '') throw new Error('give at least one node name (DELETE clears the node set)');
      checkDnsSetting(key, value);
      return value;
    },
    isSet: dnsIsSet,
  };
}

/** The spec of a key, or 404. A node set's key must name a local domain, as `rookery dns nodes` insists. */
async function specOf(ctx: WebContext, rawKey: string): Promise<SettingSpec> {
  const key = rawKey.trim();
  if (key.toLowerCase().startsWith(nodeSetPrefix)) {
    const domain = key.slice(nodeSetPrefix.length).toLowerCase().replace(/\.$/, '');
    if (!(await ctx.store.directory.isLocalDomain(domain))) throw new ApiError('not-found', `${domain} is not a local domain, so it has no node set.`);
    return nodeSetSpec(domain);
  }
  const spec = limitSpec(key) ?? dnsSpec(key);
  if (spec) return spec;
  const kept = key.startsWith('dns.serial.') ? ' (dns.serial.DOMAIN is kept by Rookery: it grows when the records change)' : '';
  throw new ApiError('not-found', `There is no setting ${key} that can be read or changed here${kept}; GET /api/v1/config lists them.`);
}

function settingJson(spec: SettingSpec, stored: string | undefined) {
  const set = spec.isSet(stored);
  return {
    key: spec.key,
    value: set ? stored!.trim() : spec.default,
    default: spec.default,
    set,
    description: spec.description,
    ...(spec.choices ? { choices: [...spec.choices] } : {}),
    takesEffect: spec.takesEffect,
  };
}

async function readSetting(ctx: WebContext, spec: SettingSpec) {
  const stored = (await ctx.store.settings.get(spec.key)) ?? undefined;
  const json = settingJson(spec, stored);
  return { json, etag: etagOf(json) };
}

const keyParam = s.object({ key: s.string({ description: 'The setting\'s key, e.g. limits.maxRecipients, dns.ttl or dns.nodes.example.org.', example: 'limits.maxRecipients' }) }, ['key']);

export const configRoutes: AnyRoute[] = [
  route({
    method: 'GET', path: '/api/v1/config', operationId: 'listSettings', tag: 'Config', access: adminOnly,
    summary: 'Every cluster-wide setting with its value, default and meaning: the limits (what `rookery config list` shows), the DNS settings and the node sets in use (`rookery dns settings`).',
    success: { status: 200, description: 'The settings, limits first.', schema: listOf('settings', settingSchema) },
    errors: [],
    async handler({ ctx }) {
      const all = await ctx.store.settings.all();
      const specs: SettingSpec[] = [
        ...Object.keys(limitSpecs).map((name) => limitSpec(`${limitPrefix}${name}`)!),
        ...dnsSettingSpecs.map((d) => dnsSpec(d.key)!),
        ...Object.keys(all).filter((k) => k.startsWith(nodeSetPrefix) && dnsIsSet(all[k])).sort().map((k) => nodeSetSpec(k.slice(nodeSetPrefix.length))),
      ];
      return ok({ settings: specs.map((spec) => settingJson(spec, all[spec.key])) });
    },
  }),
  route({
    method: 'GET', path: '/api/v1/config/{key}', operationId: 'getSetting', tag: 'Config', access: adminOnly,
    summary: 'One setting, with its ETag.',
    params: keyParam,
    success: { status: 200, description: 'The setting.', schema: settingSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params }) {
      const { json, etag } = await readSetting(ctx, await specOf(ctx, params.key));
      return ok(json, etag);
    },
  }),
  route({
    method: 'PUT', path: '/api/v1/config/{key}', operationId: 'putSetting', tag: 'Config', access: adminOnly,
    summary: 'Sets a setting, checked as `rookery config set` and `rookery dns set|nodes` check it. Running nodes apply limits at once (the queue worker\'s when they next start: see takesEffect); DNS answers follow within a second.',
    params: keyParam,
    body: s.object({ value: s.string({ maxLength: 4000, description: 'The value as text, as the CLI takes it ("50", "reject", "ns1,ns2").', example: '50' }) }, ['value']),
    success: { status: 200, description: 'The setting as set, with its new ETag.', schema: settingSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params, body, ifMatch }) {
      const spec = await specOf(ctx, params.key);
      if (ifMatch !== null) checkIfMatch(ifMatch, (await readSetting(ctx, spec)).etag);
      let value: string;
      try {
        value = spec.check(body.value);
      } catch (err) {
        const message = (err as Error).message;
        throw new ApiError('bad-request', `${message[0]!.toUpperCase()}${message.slice(1)}.`, 'value');
      }
      await ctx.store.settings.set(spec.key, value);
      const { json, etag } = await readSetting(ctx, spec);
      return ok(json, etag);
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/config/{key}', operationId: 'resetSetting', tag: 'Config', access: adminOnly,
    summary: 'Puts a setting back to its default (a node set: clears it, so the nodes no other domain reserves serve the domain).',
    params: keyParam,
    success: { status: 200, description: 'The setting as it is now, with its new ETag.', schema: settingSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params, ifMatch }) {
      const spec = await specOf(ctx, params.key);
      checkIfMatch(ifMatch, (await readSetting(ctx, spec)).etag);
      await ctx.store.settings.set(spec.key, spec.key.startsWith(limitPrefix) ? limitResetValue : '');
      const { json, etag } = await readSetting(ctx, spec);
      return ok(json, etag);
    },
  }),
];
