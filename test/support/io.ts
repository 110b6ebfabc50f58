// The `flux` command run in this process (its main) for tests, with what it wrote kept as text.
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/flux.ts';

/** A writable stream that keeps everything written to it as text. */
export class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `flux ARGS` in this process with this environment and standard input. */
export async function fluxInProcess(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliRun> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(args, {
    env,
    stdin: Readable.from(stdin === undefined ? [] : [stdin]),
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
