/** `devices revoke`: decommission a device; the server disconnects it at once and refuses it afterwards. */
import { type CliContext, EXIT, usageError } from '../cli-support.js';
import { humanClient, humanOptions, humanOptionsHelp } from './human-auth.js';

export const devicesRevokeHelp = `Usage: kiosk-provision devices revoke DEVICE_ID [options]

Revokes a device (e.g. a broken kiosk that was replaced): it is disconnected from the broker now, can never
connect again, and keeps its history (health, coverage). Roles: admin, department.

Options:
${humanOptionsHelp}`;

export const devicesRevokeOptions = { ...humanOptions } as const;

export async function runDevicesRevoke(
  id: string | undefined,
  args: { server?: string | undefined; 'token-file'?: string | undefined },
  ctx: CliContext,
): Promise<number> {
  if (!id) throw usageError('devices revoke needs a DEVICE_ID');
  const api = await humanClient(args, ctx);
  await api.post(`/api/v1/devices/${encodeURIComponent(id)}/revoke`);
  ctx.io.out(`Device ${id} revoked: disconnected and refused from now on.`);
  return EXIT.ok;
}
