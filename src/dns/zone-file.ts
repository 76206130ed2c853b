/**
 * A zone as BIND zone-file text (RFC 1035 5), for operators who run their
 * own name servers: the records `rookery dns` would answer at this moment.
 */
import type { Zone, ZoneRecord } from './records.js';

function owner(name: string, origin: string): string {
  if (name === origin) return '@';
  if (name.endsWith(`.${origin}`)) return name.slice(0, -origin.length - 1);
  return `${name}.`;
}

function rdata(r: ZoneRecord): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return r.data;
    case 'NS':
      return `${r.data}.`;
    case 'MX':
      return `${r.data.preference} ${r.data.exchange}.`;
    case 'SOA': {
      const s = r.data;
      return [
        `${s.mname}. ${s.rname}. (`,
        `${String(s.serial).padEnd(11)}; serial (YYYYMMDDnn, grows when the records change)`,
        `${String(s.refresh).padEnd(11)}; refresh`,
        `${String(s.retry).padEnd(11)}; retry`,
        `${String(s.expire).padEnd(11)}; expire`,
        `${String(s.minimum).padEnd(11)}; minimum: how long a "no such name" may be cached`,
        ')',
      ].join('\n                               ');
    }
  }
}

/** The zone as zone-file text, with $ORIGIN and $TTL; `generatedAt` goes into a comment. */
export function zoneFileText(zone: Zone, generatedAt: Date): string {
  const lines = [
    `; Zone ${zone.origin}, written by "rookery dns zone" at ${generatedAt.toISOString()}.`,
    '; The shared names list the nodes that were healthy then; rookery dns keeps them current.',
    `$ORIGIN ${zone.origin}.`,
    `$TTL ${zone.ttlSeconds}`,
  ];
  for (const r of zone.records) {
    const ttl = r.ttl === zone.ttlSeconds ? '' : String(r.ttl);
    lines.push(`${owner(r.name, zone.origin).padEnd(16)} ${ttl.padEnd(6)} IN ${r.type.padEnd(5)} ${rdata(r)}`);
  }
  return `${lines.join('\n')}\n`;
}
