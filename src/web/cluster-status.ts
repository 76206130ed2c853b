/**
 * The seeds' status letters of a cluster member (S smtp, U submission,
 * P pop3, I imap, W web, D dns, Q queue): upper case when every service of
 * that kind is healthy, lower case when one is not; "-" for none. The same
 * rule as `rookery status` (src/cli/status.ts), which may import this.
 */
import type { Member } from '../store/types.js';

const serviceLetters: Record<string, string> = {
  smtp: 'S', submission: 'U', submissions: 'U', pop3: 'P', pop3s: 'P', imap: 'I', imaps: 'I', http: 'W', https: 'W', dns: 'D', queue: 'Q',
};

export function statusLetters(member: Member): string {
  const kinds = new Map<string, boolean>();
  for (const [name, health] of Object.entries(member.services)) {
    const letter = serviceLetters[name] ?? '?';
    kinds.set(letter, (kinds.get(letter) ?? true) && health.healthy && member.state === 'up');
  }
  const order = 'SUPIWDQ?';
  return [...kinds].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([l, ok]) => (ok ? l : l.toLowerCase())).join('') || '-';
}
