import dns from 'node:dns';
import ipaddr from 'ipaddr.js';

/**
 * Refuses webhook destinations inside the network NexusCore runs in. The check runs at send time,
 * on the addresses the name resolves to, inside the socket's own lookup: the address checked is
 * the address connected to, so a name re-pointed after it was saved (DNS rebinding) gets nowhere.
 */

export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolve: Resolve = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export class DestinationRefusedError extends Error {
  readonly code = 'EDESTINATIONREFUSED';
}

/**
 * Global unicast IPv6 (RFC 4291, IANA): every allocated public IPv6 address lies in 2000::/3. Outside
 * it is only special-purpose or unallocated space, including two ranges ipaddr.js does not name:
 * IPv4-compatible ::/96 (a way to spell ::127.0.0.1) and the dummy prefix 100:0:0:1::/64 (RFC 9780).
 */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * Why an address is not a public destination, or undefined when it is one. The special-purpose
 * ranges are ipaddr.js's classification of the IANA IPv4 and IPv6 special-purpose registries
 * (loopback, private, carrier-grade NAT, link-local and metadata, documentation, benchmarking,
 * AS112, AMT, multicast, reserved, broadcast, unique local, ORCHID, segment routing...). Forms
 * that carry an IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, NAT64
 * 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) are refused as whole ranges:
 * the host that finally receives the packet is not the one named, so it cannot be checked here.
 * Any spelling ipaddr.js reads is accepted as input: 2130706433, 0177.0.0.1, 0x7f.1, 127.1.
 */
export function forbiddenReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') {
    const range = parsed.range();
    return range === 'unicast' ? undefined : range;
  }
  const v6 = parsed as ipaddr.IPv6;
  if (v6.zoneId !== undefined) return 'scoped to a local interface';
  const range = v6.range();
  if (range !== 'unicast') return range;
  if (!v6.match(GLOBAL_UNICAST_V6)) return 'outside global unicast 2000::/3';
  return undefined;
}

/** Whether an IP address is loopback, private, link-local, multicast, metadata or otherwise not public. */
export function isForbiddenAddress(address: string): boolean {
  return forbiddenReason(address) !== undefined;
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '');

/**
 * Names that always mean this machine or its own network (RFC 6761 localhost, mDNS .local, RFC 8375
 * home.arpa, the .internal names cloud providers give metadata and private hosts), refused at save
 * time already. A trailing dot (`localhost.`) names the same host and is ignored.
 */
const LOCAL_NAMES = /^(localhost|ip6-localhost|ip6-loopback)$|\.(localhost|local|localdomain|internal|home\.arpa)$/i;

/**
 * The save-time check: early feedback for the obvious cases (an IP literal, in any spelling, or a
 * local name). The send-time lookup below is the real guard. Returns why the URL is refused, or undefined.
 */
export function refusedAtSave(url: URL, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined;
  const host = hostOf(url).replace(/\.$/, '');
  if (ipaddr.isValid(host)) {
    const reason = forbiddenReason(host);
    return reason === undefined ? undefined : `must not point at a non-public address (${host} is ${reason})`;
  }
  if (LOCAL_NAMES.test(host)) return `must not point at a loopback, private, link-local or metadata host (${host})`;
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request / net.connect that resolves with `resolve` and refuses the
 * connection when any address is forbidden (unless allowPrivate).
 */
export function guardedLookup(resolve: Resolve, allowPrivate: boolean) {
  return (hostname: string, options: { family?: number | string | undefined; all?: boolean | undefined }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
        const addresses = found.filter((a) => wanted === 0 || a.family === wanted);
        if (addresses.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} does not resolve`);
          err.code = 'ENOTFOUND';
          return callback(err, '', 0);
        }
        for (const a of allowPrivate ? [] : addresses) {
          const reason = forbiddenReason(a.address);
          if (reason)
            return callback(new DestinationRefusedError(`destination refused: ${hostname} resolves to ${a.address}, a non-public address (${reason})`), '', 0);
        }
        // Connect to exactly the address checked, in its canonical spelling.
        const canonical = addresses.map((a) => (ipaddr.isValid(a.address) ? { address: ipaddr.parse(a.address).toString(), family: a.family } : a));
        if (options.all) return callback(null, canonical);
        return callback(null, canonical[0]!.address, canonical[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
