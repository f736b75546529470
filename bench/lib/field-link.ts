/**
 * The field link (issue 14): two network namespaces made for this run, a server side and a kiosk side, joined by a
 * veth pair. The kiosk's link is shaped with `tc … tbf` on both veth ends (the kiosk's upload and its download),
 * can be cut (`ip link set … down`) for N seconds every M seconds, and its bytes are counted on the kiosk's veth
 * end (`ip -s -j link`, which reads the interface's statistics inside the namespace). `netem` is not available on
 * the machines this runs on; `ip netns`, veth and tbf are. Needs root.
 *
 * Addresses exist only inside the two namespaces (10.77.0.1/30 server, 10.77.0.2/30 kiosk), so two runs never
 * collide; names carry the creating process id (`kfl<pid>…`) so a run can sweep the namespaces a dead run left.
 *
 * Only the link's own traffic is counted: each end holds a permanent neighbour entry for the other (set again after
 * every cut, which flushes the kiosk end's table) and has IPv6 off, so there is no ARP and no IPv6 neighbour or router
 * discovery on the veth (a cellular link has none of Ethernet's; measured before: ≈ 5.7 MB a month of ARP alone).
 * The counters still count whole Ethernet frames: `bytes()` also gives `ipRx`/`ipTx` (the 14 B frame header off).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Namespaces and veth ends of this harness start with it (and nothing else does): the stale sweep's key. */
export const FIELD_PREFIX = 'kfl';

export const FIELD_ADDRESSES = { server: '10.77.0.1', kiosk: '10.77.0.2', prefixLength: 30 } as const;

/** Why the field drills cannot run here, or null when they can (root, `ip netns`, veth and tbf present). */
export function fieldLinkUnavailable(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'the field link needs root (network namespaces, veth, tc); run the tests as root to include these drills';
  }
  for (const tool of ['ip', 'tc']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return `the field link needs \`${tool}\` (iproute2), not found`;
    }
  }
  return null;
}

/** Ethernet's header on each frame the veth counts (no FCS on a veth). */
export const ETHERNET_HEADER_BYTES = 14;

export interface LinkBytes {
  /** Received by the kiosk (the server's downstream), Ethernet frames as counted by the kernel. */
  rx: number;
  /** Sent by the kiosk. */
  tx: number;
  rxPackets: number;
  txPackets: number;
  /** The same without Ethernet's header: the IP packets a cellular link would carry (before its own framing). */
  ipRx: number;
  ipTx: number;
}

export interface FieldLink {
  /** `ip netns` names. */
  serverNs: string;
  kioskNs: string;
  /** veth ends, each inside its namespace. */
  serverIf: string;
  kioskIf: string;
  serverAddress: string;
  kioskAddress: string;
  /** The command line that runs `argv` inside a namespace (for spawn). */
  inNs(ns: string, argv: string[]): [string, string[]];
  /** Byte counters of the kiosk's veth end since the link was made. */
  bytes(): Promise<LinkBytes>;
  /** Takes the kiosk's link down now; `up()` brings it back. */
  down(): Promise<void>;
  up(): Promise<void>;
  isDown(): boolean;
  /**
   * Cuts the link for `downMs` every `everyMs` (first cut `everyMs - downMs` from now) until `stopCuts` or close.
   * With `reset`, each cut also destroys the TCP connections between kiosk and server (`ss -K` on both ends), as a
   * mobile link that comes back with another address does to them; without it, TCP rides out the cut by retransmitting.
   */
  startCuts(o: { everyMs: number; downMs: number; reset?: boolean; onCut?: (phase: 'down' | 'up', at: number) => void }): void;
  /** Destroys the TCP connections between kiosk and server now, on both ends (neither side sends into them again). */
  resetConnections(): Promise<void>;
  /** Stops cutting and leaves the link up; resolves once it is. */
  stopCuts(): Promise<void>;
  cuts(): number;
  /** Deletes both namespaces (and with them the veth pair). Safe to call twice. */
  close(): Promise<void>;
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 15_000 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

async function tc(args: string[]): Promise<void> {
  try {
    await run('tc', args, { timeout: 15_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`tc ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes the namespaces of this harness whose creating process is gone (a run that was killed). */
export async function sweepStaleFieldNamespaces(): Promise<string[]> {
  const listed = await ip(['-j', 'netns', 'list']).catch(() => '[]');
  const names = (JSON.parse(listed.trim() || '[]') as Array<{ name: string }>).map((n) => n.name);
  const stale = names.filter((name) => {
    const m = new RegExp(`^${FIELD_PREFIX}(\\d+)-`).exec(name);
    return m !== null && !alive(Number(m[1]));
  });
  for (const name of stale) await ip(['netns', 'delete', name]).catch(() => {});
  return stale;
}

let made = 0;

/**
 * Makes the link. `rateKbit` shapes each direction with tbf (default 256 kbit/s); `burstBytes` is tbf's bucket
 * (default 4 KiB, a few packets: the rate holds over any second, not just on average).
 */
export async function createFieldLink(
  o: { rateKbit?: number; burstBytes?: number; latencyMs?: number } = {},
): Promise<FieldLink> {
  const why = fieldLinkUnavailable();
  if (why) throw new Error(why);
  await sweepStaleFieldNamespaces();
  const id = `${FIELD_PREFIX}${process.pid}-${made++}`;
  const serverNs = `${id}-srv`;
  const kioskNs = `${id}-kio`;
  // Interface names are at most 15 characters.
  const short = `${FIELD_PREFIX}${process.pid.toString(36)}${(made - 1).toString(36)}`;
  const serverIf = `${short}s`;
  const kioskIf = `${short}k`;
  const { server: serverAddress, kiosk: kioskAddress, prefixLength } = FIELD_ADDRESSES;
  const rate = `${o.rateKbit ?? 256}kbit`;
  const burst = String(o.burstBytes ?? 4096);
  const latency = `${o.latencyMs ?? 400}ms`;

  const mac = async (ns: string, dev: string): Promise<string> => {
    const out = JSON.parse(await ip(['-n', ns, '-j', 'link', 'show', 'dev', dev])) as Array<{ address?: string }>;
    const address = out[0]?.address;
    if (!address) throw new Error(`no link-layer address for ${dev} in ${ns}`);
    return address;
  };
  let macs: { server: string; kiosk: string } | null = null;
  /** Permanent neighbour entries on both ends: no ARP on the veth (see the file comment). */
  async function pinNeighbours(): Promise<void> {
    macs ??= { server: await mac(serverNs, serverIf), kiosk: await mac(kioskNs, kioskIf) };
    await ip(['-n', kioskNs, 'neigh', 'replace', serverAddress, 'lladdr', macs.server, 'dev', kioskIf, 'nud', 'permanent']);
    await ip(['-n', serverNs, 'neigh', 'replace', kioskAddress, 'lladdr', macs.kiosk, 'dev', serverIf, 'nud', 'permanent']);
  }

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    stopTimer();
    for (const ns of [kioskNs, serverNs]) await ip(['netns', 'delete', ns]).catch(() => {});
  };
  try {
    await ip(['netns', 'add', serverNs]);
    await ip(['netns', 'add', kioskNs]);
    // Made inside the server's namespace, the kiosk end moved over: never an interface in the root namespace.
    await ip(['-n', serverNs, 'link', 'add', serverIf, 'type', 'veth', 'peer', 'name', kioskIf, 'netns', kioskNs]);
    for (const [ns, dev, addr] of [
      [serverNs, serverIf, serverAddress],
      [kioskNs, kioskIf, kioskAddress],
    ] as const) {
      await ip(['-n', ns, 'addr', 'add', `${addr}/${prefixLength}`, 'dev', dev]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', ns, 'link', 'set', dev, 'up']);
      // Egress of each end: the kiosk's upload on its end, its download on the server's end.
      await tc(['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency]);
      // No IPv6 on the link (router solicitations, neighbour discovery, MLD): only what the kiosk sends is counted.
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`], { timeout: 15_000 });
    }
    await pinNeighbours();
  } catch (error) {
    await close();
    throw error;
  }

  let down = false;
  let cutCount = 0;
  let timer: NodeJS.Timeout | null = null;
  let cutting: Promise<void> = Promise.resolve();
  function stopTimer() {
    if (timer) clearTimeout(timer);
    timer = null;
  }
  const setLink = async (state: 'up' | 'down') => {
    await ip(['-n', kioskNs, 'link', 'set', kioskIf, state]);
    // Taking an interface down flushes its neighbours, permanent ones too.
    if (state === 'up') await pinNeighbours();
    down = state === 'down';
  };

  const link: FieldLink = {
    serverNs,
    kioskNs,
    serverIf,
    kioskIf,
    serverAddress,
    kioskAddress,
    inNs: (ns, argv) => ['ip', ['netns', 'exec', ns, ...argv]],
    async bytes() {
      const out = await ip(['-n', kioskNs, '-s', '-j', 'link', 'show', 'dev', kioskIf]);
      const s = (JSON.parse(out) as Array<{ stats64: { rx: Record<string, number>; tx: Record<string, number> } }>)[0]?.stats64;
      if (!s) throw new Error(`no statistics for ${kioskIf} in ${kioskNs}`);
      const rx = s.rx.bytes ?? 0;
      const tx = s.tx.bytes ?? 0;
      const rxPackets = s.rx.packets ?? 0;
      const txPackets = s.tx.packets ?? 0;
      return {
        rx,
        tx,
        rxPackets,
        txPackets,
        ipRx: rx - rxPackets * ETHERNET_HEADER_BYTES,
        ipTx: tx - txPackets * ETHERNET_HEADER_BYTES,
      };
    },
    down: () => setLink('down'),
    up: () => setLink('up'),
    isDown: () => down,
    async resetConnections() {
      // Both ends: the server's side would otherwise retransmit into the dead connection once the link is back,
      // frames a real link (the old NAT mapping gone) would never carry to the kiosk.
      await run('ip', ['netns', 'exec', kioskNs, 'ss', '-K', 'dst', serverAddress], { timeout: 15_000 });
      await run('ip', ['netns', 'exec', serverNs, 'ss', '-K', 'dst', kioskAddress], { timeout: 15_000 });
    },
    startCuts({ everyMs, downMs, reset = false, onCut }) {
      stopTimer();
      const schedule = (phase: 'down' | 'up', inMs: number) => {
        timer = setTimeout(() => {
          if (closed) return;
          cutting = cutting
            .then(() => setLink(phase))
            .then(() => (reset && phase === 'down' ? link.resetConnections() : undefined))
            .then(() => {
              if (phase === 'down') cutCount++;
              onCut?.(phase, Date.now());
            })
            .catch(() => {});
          schedule(phase === 'down' ? 'up' : 'down', phase === 'down' ? downMs : everyMs - downMs);
        }, inMs);
      };
      schedule('down', everyMs - downMs);
    },
    async stopCuts() {
      stopTimer();
      await cutting;
      if (down && !closed) await setLink('up');
    },
    cuts: () => cutCount,
    close,
  };
  return link;
}
