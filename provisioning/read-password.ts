/** Reads a password: from the terminal without echoing it, or the first line of standard input in scripts. */
import { createInterface } from 'node:readline';

export async function readPassword(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
  }
  process.stderr.write(prompt);
  const rl = createInterface({ input, terminal: true });
  input.setRawMode?.(true);
  // Raw mode with no output stream: readline echoes nothing, the password never appears on screen.
  return new Promise((resolve) => {
    rl.once('line', (line) => {
      input.setRawMode?.(false);
      rl.close();
      process.stderr.write('\n');
      resolve(line);
    });
  });
}
