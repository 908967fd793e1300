/**
 * `ykc <command>`: decode, encode, serve, simulate. Each command is a module exporting
 * `run(args, io)`, loaded on demand so `ykc decode` does not pay for the gateway.
 */
import { CliIo, processIo } from './io';

type Runner = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Runner }> = {
  decode: { summary: 'decode <hex|->      decode a frame (hex, spaces allowed) to JSON', load: () => require('./decode').run },
  encode: { summary: "encode '<json>'|-   encode a frame object to hex", load: () => require('./encode').run },
  serve: { summary: 'serve [--host H] [--port P] …   run the gateway, print one JSON line per event', load: () => require('./serve').run },
  replay: { summary: 'replay FILE --host H --port P [--speed X]   play a capture as its pile, report differing answers', load: () => require('./replay').run },
  simulate: { summary: 'simulate --host H --port P --piles N …   run virtual piles', load: () => require('./simulate').run },
};

export function usage(): string {
  return ['usage: ykc <command> [options]', '', ...Object.values(COMMANDS).map((c) => '  ykc ' + c.summary), ''].join('\n');
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    io.out(usage());
    return cmd ? 0 : 2;
  }
  // Own names only: COMMANDS.constructor is Object, not a command.
  const c = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!c) {
    io.err(JSON.stringify({ code: 'YKC_INPUT', message: `ykc: unknown command "${cmd}"` }));
    io.err(usage());
    return 2;
  }
  let run: Runner;
  try {
    run = c.load();
  } catch (e) {
    io.err(`ykc: command "${cmd}" is not available in this build (${(e as Error).message})`);
    return 2;
  }
  return run(rest, io);
}
