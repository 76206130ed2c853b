/**
 * A keepalived configuration for running traffic managers on two machines
 * that share one virtual address: VRRP moves the address to the machine
 * whose `rookery lb` answers its heartbeat. See src/balancer/README.md.
 */
import { isIP } from 'node:net';

export interface KeepalivedOptions {
  /** The virtual address clients reach (the MX and A records point here). */
  virtualAddress: string;
  /** Prefix length of the virtual address (32 for IPv4, 128 for IPv6 by default). */
  prefixLength?: number;
  /** The network interface that carries the virtual address, e.g. "eth0". */
  interface: string;
  /** MASTER on the preferred machine, BACKUP on the other. */
  state: 'MASTER' | 'BACKUP';
  /** Higher wins; give the MASTER machine the higher one (1..254). */
  priority: number;
  /** VRRP router id, the same on both machines and unique on the network (1..255). */
  routerId: number;
  /** VRRP advertisement interval in seconds. */
  advertIntervalS: number;
  /** The other machine's address, for unicast VRRP (networks without multicast); none: multicast. */
  unicastPeers: string[];
  /** Up to 8 characters shared by both machines; none: no VRRP authentication. */
  authPass?: string;
  /** The command that asks the local traffic manager if it is alive (exit 0 when it is). */
  checkCommand: string;
}

/** Characters that would break out of a quoted keepalived string. */
function checkQuotable(text: string, what: string): void {
  if (/["\\\n\r]/.test(text)) throw new Error(`${what} must not contain quotes, backslashes or line breaks`);
}

export function keepalivedConfig(o: KeepalivedOptions): string {
  const family = isIP(o.virtualAddress);
  if (family === 0) throw new Error(`"${o.virtualAddress}" is not an IP address`);
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(o.interface)) throw new Error(`"${o.interface}" is not a network interface name`);
  for (const p of o.unicastPeers) if (isIP(p) === 0) throw new Error(`unicast peer "${p}" is not an IP address`);
  if (o.authPass !== undefined && !/^[\x21-\x7e]{1,8}$/.test(o.authPass)) throw new Error('the VRRP password is 1 to 8 printable characters without spaces');
  checkQuotable(o.checkCommand, 'the check command');
  const prefix = o.prefixLength ?? (family === 4 ? 32 : 128);
  const lines = [
    '# keepalived configuration for a Rookery traffic manager, printed by `rookery lb keepalived-config`.',
    '# Install as /etc/keepalived/keepalived.conf on both machines (MASTER on one, BACKUP on the other).',
    '# Let rookery lb bind the virtual address while the other machine holds it:',
    `#   sysctl -w net.ipv${family === 4 ? '4' : '6'}.ip_nonlocal_bind=1`,
    '# and run on both: rookery lb --address ' + o.virtualAddress + ' --heartbeat-address 127.0.0.1 ...',
    '',
    'global_defs {',
    '    enable_script_security',
    '    script_user root',
    '}',
    '',
    'vrrp_script chk_rookery_lb {',
    `    script "${o.checkCommand}"`,
    '    interval 1',
    '    timeout 2',
    '    fall 2',
    '    rise 2',
    '}',
    '',
    'vrrp_instance rookery_lb {',
    `    state ${o.state}`,
    `    interface ${o.interface}`,
    `    virtual_router_id ${o.routerId}`,
    `    priority ${o.priority}`,
    `    advert_int ${o.advertIntervalS}`,
  ];
  if (o.authPass !== undefined) {
    lines.push('    authentication {', '        auth_type PASS', `        auth_pass ${o.authPass}`, '    }');
  }
  if (o.unicastPeers.length > 0) {
    lines.push('    unicast_peer {', ...o.unicastPeers.map((p) => `        ${p}`), '    }');
  }
  lines.push(
    '    virtual_ipaddress {',
    `        ${o.virtualAddress}/${prefix} dev ${o.interface}`,
    '    }',
    '    track_script {',
    '        chk_rookery_lb',
    '    }',
    '}',
    '',
  );
  return lines.join('\n');
}
