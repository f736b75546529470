/** The kiosk's facts sent at enrollment (DESIGN §6), gathered with systeminformation. */
import si from 'systeminformation';
import { type DeviceFacts, LIMITS } from '../protocol/index.js';

/** Firmware often fills these with placeholders; they identify nothing. */
const PLACEHOLDER = /^(|-|0+|none|default string|to be filled by o\.e\.m\.|system serial number|not specified|unknown)$/i;

const clean = (value: string | undefined): string | null => {
  const v = (value ?? '').trim();
  return PLACEHOLDER.test(v) ? null : v.slice(0, LIMITS.shortText);
};

export async function gatherFacts(overrides: Partial<DeviceFacts> = {}): Promise<DeviceFacts> {
  const [system, os, defaultIface, ifaces] = await Promise.all([
    si.system(),
    si.osInfo(),
    si.networkInterfaceDefault().catch(() => ''),
    si.networkInterfaces().catch(() => []),
  ]);
  const list = Array.isArray(ifaces) ? ifaces : [ifaces];
  const iface = list.find((i) => i.iface === defaultIface) ?? list.find((i) => !i.internal && i.mac);
  const hostname = clean(os.hostname) ?? 'unknown';
  return {
    // The serial is what the inventory import knows the kiosk by; a VM or a bare board may have none.
    serial: overrides.serial ?? clean(system.serial) ?? clean(system.uuid) ?? hostname,
    model: overrides.model ?? ([clean(system.manufacturer), clean(system.model)].filter(Boolean).join(' ') || 'unknown'),
    mac: overrides.mac ?? clean(iface?.mac) ?? 'unknown',
    hostname: overrides.hostname ?? hostname,
  };
}
