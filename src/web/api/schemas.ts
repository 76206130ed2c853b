/** Schemas the API's resources share: the representations, as the document names them. */
import { userRoles } from '../../store/rules.js';
import { s } from '../schema.js';

export const roleSchema = s.enum(userRoles, { description: 'admin (everything), domain-admin (its domain\'s users, aliases and forwards), user (self-care).' });

export const domainSchema = s.named('Domain', s.object({
  name: s.string({ description: 'Lower-case domain name.', example: 'example.org' }),
  createdAt: s.string({ format: 'date-time' }),
}, ['name', 'createdAt']));

export const userSchema = s.named('User', s.object({
  address: s.string({ format: 'email', example: 'me@example.org' }),
  quotaBytes: s.integer({ minimum: 0, description: 'Storage quota in bytes; 0 is unlimited.' }),
  usedBytes: s.integer({ minimum: 0, description: 'Bytes stored now (not part of the ETag: mail arriving does not make an edit stale).' }),
  customerId: s.string({ description: 'Free-form reference for billing; may be empty.' }),
  enabled: s.boolean({ description: 'A disabled user cannot log in and receives no mail.' }),
  role: roleSchema,
  createdAt: s.string({ format: 'date-time' }),
}, ['address', 'quotaBytes', 'usedBytes', 'customerId', 'enabled', 'role', 'createdAt']));

export const aliasSchema = s.named('Alias', s.object({
  address: s.string({ description: 'The alias address, or "@domain" for the domain\'s catch-all.', example: 'info@example.org' }),
  targets: s.array(s.string(), { minItems: 1 }),
}, ['address', 'targets']));

export const forwardSchema = s.named('Forward', s.object({
  address: s.string({ format: 'email', description: 'The local user whose mail is forwarded.' }),
  target: s.string({ description: 'Where it is forwarded to.' }),
  keepCopy: s.boolean({ description: 'Whether the user keeps a copy in its INBOX.' }),
}, ['address', 'target', 'keepCopy']));

export const transportSchema = s.named('Transport', s.object({
  domain: s.string({ description: 'A domain, or "*" for the smarthost every other domain goes through.' }),
  target: s.string({ description: 'HOST:PORT mail for the domain is relayed to instead of its MX.', example: 'relay.example.net:25' }),
}, ['domain', 'target']));

export const queueRecipientSchema = s.named('QueuedRecipient', s.object({
  address: s.string(),
  domain: s.string(),
  state: s.enum(['queued', 'delivered', 'bounced'] as const),
  attempts: s.integer({ minimum: 0 }),
  nextAttemptAt: s.string({ format: 'date-time' }),
  lastError: s.string(),
  leaseOwner: s.nullable(s.string({ description: 'The worker trying it now.' })),
  leaseExpiresAt: s.nullable(s.string({ format: 'date-time' })),
  delayWarned: s.boolean(),
}, ['address', 'domain', 'state', 'attempts', 'nextAttemptAt', 'lastError', 'leaseOwner', 'leaseExpiresAt', 'delayWarned']));

export const queuedMessageSchema = s.named('QueuedMessage', s.object({
  id: s.string(),
  sender: s.string({ description: '"" for the null sender (bounces).' }),
  size: s.integer({ minimum: 0 }),
  createdAt: s.string({ format: 'date-time' }),
  origin: s.string({ description: 'The node that queued it.' }),
  recipients: s.array(queueRecipientSchema),
}, ['id', 'sender', 'size', 'createdAt', 'origin', 'recipients']));

const serviceHealthSchema = s.object({
  port: s.integer(),
  healthy: s.boolean(),
  connections: s.integer({ minimum: 0, description: 'Client connections open at its last heartbeat (absent when the member does not count them).' }),
}, ['port', 'healthy']);

export const nodeSchema = s.named('Node', s.object({
  name: s.string(),
  role: s.enum(['node', 'balancer'] as const),
  address: s.string(),
  host: s.string(),
  pid: s.integer(),
  state: s.enum(['up', 'draining', 'down'] as const),
  status: s.string({ description: 'Status letters: S smtp, U submission, P pop3, I imap, W web, D dns, Q queue; lower case = unhealthy.' }),
  version: s.string(),
  startedAt: s.string({ format: 'date-time' }),
  heartbeatAt: s.string({ format: 'date-time' }),
  services: s.record(serviceHealthSchema),
}, ['name', 'role', 'address', 'host', 'pid', 'state', 'status', 'version', 'startedAt', 'heartbeatAt', 'services']));

export const tokenSchema = s.named('Token', s.object({
  id: s.string(),
  kind: s.enum(['api', 'session'] as const),
  role: roleSchema,
  domain: s.nullable(s.string()),
  subject: s.nullable(s.string()),
  label: s.string(),
  createdAt: s.string({ format: 'date-time' }),
  expiresAt: s.nullable(s.string({ format: 'date-time' })),
  lastUsedAt: s.nullable(s.string({ format: 'date-time' })),
}, ['id', 'kind', 'role', 'domain', 'subject', 'label', 'createdAt', 'expiresAt', 'lastUsedAt']));

export const certificateSchema = s.named('Certificate', s.object({
  subject: s.string(),
  issuer: s.string(),
  names: s.string({ description: 'Subject alternative names.' }),
  validFrom: s.string(),
  validTo: s.string(),
  fingerprint256: s.string(),
  cert: s.string({ description: 'The certificate chain, PEM. The key is never shown.' }),
}, ['subject', 'issuer', 'names', 'validFrom', 'validTo', 'fingerprint256', 'cert']));

export const zoneSchema = s.named('Zone', s.object({
  domain: s.string(),
  text: s.string({ description: 'The zone as BIND zone-file text (what `rookery dns zone` prints).' }),
  problems: s.array(s.string(), { description: 'Settings that could not be used as they are.' }),
}, ['domain', 'text', 'problems']));

export const principalSchema = s.named('Principal', s.object({
  role: roleSchema,
  domain: s.nullable(s.string()),
  subject: s.nullable(s.string()),
  via: s.enum(['token', 'password', 'session'] as const),
  client: s.string({ description: 'Your address as this node sees it (through a traffic manager: from its PROXY header).' }),
}, ['role', 'domain', 'subject', 'via', 'client']));

export const settingSchema = s.named('Setting', s.object({
  key: s.string({ example: 'limits.maxRecipients' }),
  value: s.nullable(s.string({ description: 'The value in force, as text: the store\'s, or the default when none is set; null when the default is computed or there is none.' })),
  default: s.nullable(s.string({ description: 'null when computed (some DNS settings) or absent (a node set).' })),
  set: s.boolean({ description: 'Whether the store holds a value (false: the default applies).' }),
  description: s.string(),
  choices: s.array(s.string(), { description: 'The values allowed, for settings that take one of a few words.' }),
  takesEffect: s.enum(['node-start', 'at-once'] as const, { description: 'node-start: nodes read it when they start (the queue worker\'s limits); at-once: running nodes apply it to sessions that start from then on, and DNS answers follow within a second.' }),
}, ['key', 'value', 'default', 'set', 'description', 'takesEffect']));

export const listOf = <T>(name: string, item: import('../schema.js').Schema<T>) => s.object({ [name]: s.array(item) } as Record<string, ReturnType<typeof s.array<T>>>, [name]);
