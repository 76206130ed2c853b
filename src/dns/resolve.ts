/**
 * Answers one question from the zones (RFC 1034 4.3.2, authoritative part
 * only: no recursion, no delegations below our zones). Pure: the zones and
 * a rotation counter come in, the sections of the answer go out.
 */
import type { Zone, ZoneRecord } from './records.js';

/** Response codes (RFC 1035 4.1.1; BADVERS from RFC 6891). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** Query types and classes this server treats specially (RFC 1035 3.2.2, 3.2.4; RFC 3596). */
export const QType = { A: 1, NS: 2, SOA: 6, MX: 15, AAAA: 28, IXFR: 251, AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255 } as const;
export const QClass = { IN: 1, ANY: 255 } as const;

const typeNumbers: Record<ZoneRecord['type'], number> = { A: QType.A, NS: QType.NS, SOA: QType.SOA, MX: QType.MX, AAAA: QType.AAAA };

/** A question as the wire layer parsed it. */
export interface Question {
  /** The labels, lower case, in presentation form (a "." or an odd byte inside a label is escaped). */
  labels: string[];
  type: number;
  class: number;
}

/** The sections of an answer, before encoding. */
export interface Resolution {
  rcode: number;
  /** AA: set for answers from our zones (RFC 1035 4.1.1), clear for REFUSED. */
  authoritative: boolean;
  answers: ZoneRecord[];
  authorities: ZoneRecord[];
  /** Helpful addresses (of MX targets, of name servers); dropped first when space is short. */
  additionals: ZoneRecord[];
}

/** A zone with its records by owner name, ready for lookups. */
export interface IndexedZone {
  zone: Zone;
  labels: string[];
  byName: Map<string, ZoneRecord[]>;
  /** Names with no records of their own but with names below them (RFC 8020: NODATA, not NXDOMAIN). */
  emptyNonTerminals: Set<string>;
  soa: ZoneRecord;
}

export function indexZone(zone: Zone): IndexedZone {
  const byName = new Map<string, ZoneRecord[]>();
  for (const r of zone.records) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  const emptyNonTerminals = new Set<string>();
  const originLabels = zone.origin.split('.').length;
  for (const name of byName.keys()) {
    const labels = name.split('.');
    for (let i = 1; labels.length - i > originLabels; i++) {
      const parent = labels.slice(i).join('.');
      if (!byName.has(parent)) emptyNonTerminals.add(parent);
    }
  }
  const soa = zone.records.find((r) => r.type === 'SOA');
  if (!soa) throw new Error(`zone ${zone.origin} has no SOA record`);
  return { zone, labels: zone.origin.split('.'), byName, emptyNonTerminals, soa };
}

/** The zone that holds a name: the one with the longest origin that is a suffix of the name, label by label. */
export function findZone(labels: readonly string[], zones: readonly IndexedZone[]): IndexedZone | null {
  let best: IndexedZone | null = null;
  for (const z of zones) {
    if (z.labels.length > labels.length) continue;
    if (best && best.labels.length >= z.labels.length) continue;
    const tail = labels.slice(labels.length - z.labels.length);
    if (tail.every((l, i) => l === z.labels[i])) best = z;
  }
  return best;
}

/**
 * Picks how far to rotate an RRset of `count` records; the server keeps one
 * counter per set so that successive answers start at successive records.
 */
export type Rotator = (key: string, count: number) => number;

function rotated(records: ZoneRecord[], rotate: Rotator): ZoneRecord[] {
  if (records.length < 2) return records;
  const first = records[0]!;
  const by = rotate(`${first.name}/${first.type}`, records.length) % records.length;
  return [...records.slice(by), ...records.slice(0, by)];
}

function refused(): Resolution {
  return { rcode: Rcode.REFUSED, authoritative: false, answers: [], authorities: [], additionals: [] };
}

/** Answers one question from the zones. */
export function resolve(q: Question, zones: readonly IndexedZone[], rotate: Rotator): Resolution {
  // Only the Internet class exists here; CHAOS (version.bind) and the rest are not ours to answer.
  if (q.class !== QClass.IN && q.class !== QClass.ANY) return refused();
  const zone = findZone(q.labels, zones);
  if (!zone) return refused(); // not our zone, and we do not recurse (RA=0)
  // Zone transfers are not offered; `rookery dns zone` exports the records instead.
  if (q.type === QType.AXFR || q.type === QType.IXFR) return refused();
  const name = q.labels.join('.');
  const negative = (rcode: number): Resolution => ({ rcode, authoritative: true, answers: [], authorities: [zone.soa], additionals: [] });
  const here = zone.byName.get(name);
  if (!here) return negative(zone.emptyNonTerminals.has(name) ? Rcode.NOERROR : Rcode.NXDOMAIN);

  let wanted: ZoneRecord[];
  if (q.type === QType.ANY) wanted = here;
  else if (q.type === QType.MAILA) wanted = here.filter((r) => r.type === 'MX'); // RFC 1035 3.2.3: MAILA means MX now
  else wanted = here.filter((r) => typeNumbers[r.type] === q.type);
  if (wanted.length === 0) return negative(Rcode.NOERROR); // NODATA (RFC 2308 2.2)

  const answers: ZoneRecord[] = [];
  for (const type of ['SOA', 'NS', 'MX', 'A', 'AAAA'] as const) {
    answers.push(...rotated(wanted.filter((r) => r.type === type), rotate));
  }
  // Addresses of in-zone MX targets and name servers save the asker a round trip (RFC 1035 3.3.9, 3.3.11).
  const additionals: ZoneRecord[] = [];
  for (const r of answers) {
    const target = r.type === 'MX' ? r.data.exchange : r.type === 'NS' ? r.data : null;
    if (target === null) continue;
    for (const a of zone.byName.get(target) ?? []) {
      if ((a.type === 'A' || a.type === 'AAAA') && !additionals.includes(a)) additionals.push(a);
    }
  }
  return { rcode: Rcode.NOERROR, authoritative: true, answers, authorities: [], additionals };
}
