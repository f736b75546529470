/** What every verb of the technicians' CLI shares: errors with exit codes, the context, option helpers. */

/** Exit codes (documented in `--help` and docs/provisioning.md). */
export const EXIT = {
  ok: 0,
  /** Done, but some rows were rejected (imports). */
  partial: 1,
  usage: 2,
  /** The server could not be reached (network, DNS, timeout). */
  unreachable: 3,
  /** The server answered with an error (its `{error}` is printed). */
  refused: 4,
  /** Enrolled and config written, but the broker could not be reached with the issued credentials. */
  brokerUnreachable: 5,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** Parsed once in `runCli` from flags and the environment, then passed to the verb. */
export interface CliContext {
  io: CliIo;
  env: Record<string, string | undefined>;
  /** Asks for a password without echo (terminal) or reads it from standard input (scripts). */
  readPassword(prompt: string): Promise<string>;
}

/** `72h`, `3d`, `90m`, or a bare number of hours → hours. */
export function parseTtlHours(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([mhd]?)\s*$/.exec(text);
  if (!match) throw usageError(`--ttl: not a duration: ${JSON.stringify(text)} (use e.g. 72h, 3d, 90m)`);
  const value = Number(match[1]);
  const hours = match[2] === 'd' ? value * 24 : match[2] === 'm' ? value / 60 : value;
  if (hours <= 0) throw usageError('--ttl must be positive');
  return hours;
}

export function parsePositiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--${name} must be a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}
