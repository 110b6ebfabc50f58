// Terminal I/O for the CLI: where output goes, and secrets read from a prompt without echo.
import type { Readable, Writable } from 'node:stream';

export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
}

export function processIo(): CliIo {
  return { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/** A usage or input error: printed as its message, exit status 2 (1 for other failures). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Reads one line from a terminal without echoing it (Ctrl-C aborts). */
export function promptHidden(io: CliIo, question: string): Promise<string> {
  const { stdin } = io;
  if (!stdin.isTTY || !stdin.setRawMode) {
    return Promise.reject(new CliError('no terminal to prompt on; set FLUX_PASSWORD'));
  }
  io.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode!(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode!(false);
      stdin.pause();
      stdin.off('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('aborted', 130));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Everything on a non-terminal stdin (e.g. a piped mnemonic). */
export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The wallet password: FLUX_PASSWORD, else a prompt (twice when `confirm`). */
export async function readPassword(io: CliIo, opts: { confirm?: boolean } = {}): Promise<string> {
  const fromEnv = io.env.FLUX_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!io.stdin.isTTY) {
    throw new CliError('no terminal to ask for the wallet password on: set FLUX_PASSWORD');
  }
  const password = await promptHidden(io, 'Wallet password: ');
  if (password === '') throw new CliError('the password must not be empty');
  if (opts.confirm) {
    const again = await promptHidden(io, 'Repeat the password: ');
    if (again !== password) throw new CliError('the two passwords differ; nothing was written');
  }
  return password;
}

/** How long ago a ms time was, for people: `12 s`, `4 min`, `2 h`. */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}
