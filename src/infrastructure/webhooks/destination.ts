import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { WebhookDestinationGuard } from '../../application/ports/webhook-destination.port';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name has, as the operating system resolves it (dns.lookup, all of them). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemHostResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

/** Ranges no webhook may reach in the cloud, each with what to call it. */
const NON_PUBLIC: ReadonlyArray<[network: string, prefix: number, family: 'ipv4' | 'ipv6', kind: string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.88.99.0', 24, 'ipv4', '6to4 relay'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  // IPv4-compatible (deprecated); IPv4-mapped (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96),
  // NAT64 (64:ff9b::/96) and 6to4 are checked as the IPv4 address they carry (embeddedIpv4)
  ['::', 96, 'ipv6', 'IPv4-compatible'],
  // local-use NAT64 (RFC 8215): a network's own translator, to wherever it reaches
  ['64:ff9b:1::', 48, 'ipv6', 'local-use NAT64'],
  ['100::', 64, 'ipv6', 'discard'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['fc00::', 7, 'ipv6', 'private (unique local)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const RANGES = NON_PUBLIC.map(([network, prefix, family, kind]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, kind };
});

/** The 16 bytes of an IPv6 address (one isIP calls 6). */
function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0]!;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1]!.split('.').map(Number));
    text = text.slice(0, -dotted[1]!.length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').filter((g) => g !== '') : []);
  const left = groups(head);
  const right = groups(rest);
  const words = [
    ...left,
    ...Array<string>(rest === undefined ? 0 : 8 - left.length - right.length).fill('0'),
    ...right,
  ];
  const bytes = words.flatMap((word) => {
    const value = parseInt(word, 16);
    return [value >> 8, value & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * The IPv4 address an IPv6 one carries: IPv4-mapped (::ffff:0:0/96), IPv4-translated
 * (::ffff:0:0:0/96, RFC 2765), NAT64 (64:ff9b::/96) or 6to4 (2002::/16).
 */
function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12, 16).join('.');
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return b.slice(12, 16).join('.');
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12, 16).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  return null;
}

/** What kind of non-public address this is, or null for a public one. */
export function nonPublicKind(address: string): string | null {
  const version = isIP(address);
  if (version === 0) return 'invalid';
  if (version === 6) {
    const inner = embeddedIpv4(address);
    if (inner !== null) return nonPublicKind(inner);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const plain = version === 6 ? address.split('%')[0]! : address;
  return RANGES.find((range) => range.list.check(plain, family))?.kind ?? null;
}

export type PublicResolution = { addresses: ResolvedAddress[] } | { problem: string };

/**
 * The public addresses of a URL's host: an IP literal is checked as it is, a name is resolved
 * and every one of its addresses must be public. A delivery connects to exactly the addresses
 * checked here, so a name that resolves differently a moment later (DNS rebinding) gains nothing.
 */
export class PublicDestinationGuard implements WebhookDestinationGuard {
  constructor(
    private readonly resolve: HostResolver = systemHostResolver,
    private readonly timeoutMs = 5_000,
  ) {}

  async publicProblem(url: URL): Promise<string | null> {
    const resolution = await this.resolvePublic(url.hostname);
    return 'problem' in resolution ? resolution.problem : null;
  }

  async resolvePublic(urlHostname: string): Promise<PublicResolution> {
    const host = urlHostname.startsWith('[') ? urlHostname.slice(1, -1) : urlHostname;
    const version = isIP(host);
    if (version !== 0) {
      const kind = nonPublicKind(host);
      return kind
        ? { problem: `${host} is a ${kind} address, not a public one` }
        : { addresses: [{ address: host, family: version === 6 ? 6 : 4 }] };
    }
    const name = host.toLowerCase().replace(/\.$/, '');
    if (name === 'localhost' || name.endsWith('.localhost')) {
      return { problem: `${host} is a loopback name, not a public host` };
    }
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.withTimeout(this.resolve(name));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { problem: `the host ${host} does not resolve${typeof code === 'string' ? ` (${code})` : ''}` };
    }
    if (addresses.length === 0) return { problem: `the host ${host} does not resolve` };
    for (const { address } of addresses) {
      const kind = nonPublicKind(address);
      if (kind) return { problem: `the host ${host} resolves to ${address}, a ${kind} address` };
    }
    return { addresses };
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEOUT' })),
        this.timeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
