/** The CLI's streams, injectable so tests can run commands in-process. */
import { Readable } from 'stream';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  stdin: Readable;
  /** Resolves when the command should stop (SIGINT/SIGTERM in a real process). */
  onStop(cb: () => void): void;
}

export function processIo(): CliIo {
  return {
    out: (l) => process.stdout.write(l.endsWith('\n') ? l : l + '\n'),
    err: (l) => process.stderr.write(l.endsWith('\n') ? l : l + '\n'),
    stdin: process.stdin,
    onStop(cb) {
      process.once('SIGINT', cb);
      process.once('SIGTERM', cb);
    },
  };
}
