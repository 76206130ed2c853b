/**
 * The HTTP service's limits, each with its unit in its name and a
 * sentence. (Candidates for src/config/limits.ts, so operators can set
 * them cluster-wide with `rookery config set`.) Failed logins are counted
 * by the node's login throttle, shared with every protocol: its limits are
 * in src/config/limits.ts (maxLoginFailuresPerAddress and the others).
 */
export interface WebLimits {
  /** Largest request body the API reads; larger is refused with 413 before it is read. */
  maxHttpBodyBytes: number;
  /** Time allowed to receive a request's headers (slow-loris guard). */
  httpHeadersTimeoutMs: number;
  /** Time allowed to receive a whole request. */
  httpRequestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  httpKeepAliveTimeoutMs: number;
  /** Event streams open at once on a node; more get 503. */
  maxEventStreams: number;
  /** A comment line is sent on a quiet event stream this often, so proxies keep it open. */
  eventKeepaliveMs: number;
}

export const defaultWebLimits: WebLimits = {
  maxHttpBodyBytes: 1024 * 1024,
  httpHeadersTimeoutMs: 20_000,
  httpRequestTimeoutMs: 60_000,
  httpKeepAliveTimeoutMs: 5_000,
  maxEventStreams: 1000,
  eventKeepaliveMs: 15_000,
};
