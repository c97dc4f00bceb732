import dns from 'node:dns';
import net from 'node:net';

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

const blocked = new net.BlockList();
for (const [net4, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (and Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net4, prefix, 'ipv4');
}
for (const [net6, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net6, prefix, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (net.isIPv6(address) === false) return undefined;
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const p = dotted[1]!.split('.').map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  const groups = [...h, ...fill, ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedIpv4(groups: number[]): string | undefined {
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!); // ::ffff:a.b.c.d
  if (zeros(0, 6) && (groups[6] !== 0 || groups[7]! > 1)) return v4(groups[6]!, groups[7]!); // ::a.b.c.d
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6]!, groups[7]!); // NAT64
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!); // 6to4
  return undefined;
}

/** Whether an IP address is loopback, private, link-local, multicast, metadata or otherwise not public. */
export function isForbiddenAddress(address: string): boolean {
  if (net.isIPv4(address)) return blocked.check(address, 'ipv4');
  const groups = ipv6Groups(address);
  if (!groups) return true; // not an IP at all: refuse rather than guess
  const v4 = embeddedIpv4(groups);
  if (v4 !== undefined) return blocked.check(v4, 'ipv4');
  return blocked.check(groups.map((g) => g.toString(16)).join(':'), 'ipv6');
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '');

/** Names that always mean this machine or its network, refused at save time already. */
const LOCAL_NAMES = /^(localhost|localhost\.localdomain|ip6-localhost|ip6-loopback)$|\.(localhost|local|internal)$/i;

/**
 * The save-time check: early feedback for the obvious cases (an IP literal or `localhost`). The
 * send-time lookup below is the real guard. Returns why the URL is refused, or undefined.
 */
export function refusedAtSave(url: URL, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined;
  const host = hostOf(url);
  if (net.isIP(host) ? isForbiddenAddress(host) : LOCAL_NAMES.test(host)) {
    return `must not point at a loopback, private, link-local or metadata address (${host})`;
  }
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
        const bad = allowPrivate ? undefined : addresses.find((a) => isForbiddenAddress(a.address));
        if (bad) return callback(new DestinationRefusedError(`destination refused: ${hostname} resolves to ${bad.address}, a non-public address`), '', 0);
        if (options.all) return callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
        return callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
