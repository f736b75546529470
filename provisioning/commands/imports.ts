/** `sites import` and `devices import`: send a CSV file as it is and print the server's per-row report. */
import { readFile } from 'node:fs/promises';
import { ImportReport } from '../../protocol/index.js';
import { type CliContext, CliError, EXIT, usageError } from '../cli-support.js';
import { humanClient, humanOptions, humanOptionsHelp } from './human-auth.js';

const importOptionsHelp = `  --atomic                all or nothing: if any row is rejected, nothing is written
  --json                  print the server's JSON report only
${humanOptionsHelp}

The file is sent as it is: UTF-8 with or without BOM (Excel's "CSV UTF-8"); any other encoding is refused
as a whole so Vietnamese names are never garbled. Without --atomic, valid rows are applied (in one
transaction) and each rejected row is reported with its line and the reason.
Exit codes: 0 all rows applied; 1 some rows rejected; 2 usage; 3 server unreachable; 4 server refused.`;

export const sitesImportHelp = `Usage: kiosk-provision sites import FILE.csv [--atomic] [options]

Imports sites in the reference format (header: id,kind,name,parent_id,border,admin_code,valid_to,note;
see server/seed/gia-lai-border-sites.csv). Known ids are updated. Roles: admin, department.

Options:
${importOptionsHelp}`;

export const devicesImportHelp = `Usage: kiosk-provision devices import FILE.csv [--atomic] [options]

Imports the equipment inventory (header: serial,model,kind,site) as devices in status "registered";
a kiosk enrolled later with the same serial takes over its row. Roles: admin, department, technician.

Options:
${importOptionsHelp}`;

export const importOptions = { ...humanOptions, atomic: { type: 'boolean' }, json: { type: 'boolean' } } as const;

type ImportArgs = {
  atomic?: boolean | undefined;
  json?: boolean | undefined;
  server?: string | undefined;
  'token-file'?: string | undefined;
};

async function runImport(
  what: 'sites' | 'devices',
  file: string | undefined,
  args: ImportArgs,
  ctx: CliContext,
): Promise<number> {
  if (!file) throw usageError(`${what} import needs a FILE.csv`);
  const api = await humanClient(args, ctx);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, EXIT.usage);
  }
  // 422 is an atomic import with rejected rows: the body is still the report.
  const raw = await api.postBytes(
    `/api/v1/${what}/import${args.atomic ? '?atomic=1' : ''}`,
    bytes,
    'text/csv; charset=utf-8',
    [422],
  );
  const report = ImportReport.parse(raw);
  if (args.json) ctx.io.out(JSON.stringify(report, null, 2));
  else printReport(report, ctx);
  return report.rejected > 0 ? EXIT.partial : EXIT.ok;
}

function printReport(report: ImportReport, ctx: CliContext): void {
  for (const row of report.rows) {
    const line = `line ${String(row.line).padStart(4)}  ${row.action.padEnd(8)}  ${row.id ?? '-'}`;
    if (row.action === 'rejected') ctx.io.err(`${line}  ${row.reason ?? ''}`);
    else ctx.io.out(line);
  }
  ctx.io.out(
    `${report.created} created, ${report.updated} updated, ${report.rejected} rejected${report.applied ? '' : ' — nothing was written'}.`,
  );
}

export const runSitesImport = (file: string | undefined, args: ImportArgs, ctx: CliContext) =>
  runImport('sites', file, args, ctx);
export const runDevicesImport = (file: string | undefined, args: ImportArgs, ctx: CliContext) =>
  runImport('devices', file, args, ctx);
