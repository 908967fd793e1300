/**
 * ykc-ota: remote update 0x94 → the pile's 0x93 (docs/protocol.md §5.6). The pile downloads its firmware
 * from an FTP server. The protocol carries the FTP password in clear text (16 ASCII bytes): keep it
 * in the node's credentials, use an FTP account that can read the firmware and nothing else.
 *
 * Widths are checked here with messages that never show the password: host, user and password at
 * most 16 ASCII characters, path at most 32. With no timeout set, the node waits for the answer as
 * long as the download may take (timeoutMinutes) plus 30 s, since some piles answer after it.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';
import { CommandDef, CommandRunner, numeric, present, requestExchange, resultJudge, serverOf } from './shared/command';

interface YkcOtaDef extends CommandDef {
  pileModel?: string | number;
  pilePower?: string | number;
  ftpHost?: string;
  ftpPort?: string | number;
  ftpUser?: string;
  ftpPath?: string;
  runWhen?: string | number;
  timeoutMinutes?: string | number;
}

interface OtaNode extends Node {
  credentials: { ftpPassword?: string };
}

const WIDTHS: Array<[string, number]> = [
  ['ftpHost', 16],
  ['ftpUser', 16],
  ['ftpPassword', 16],
  ['ftpPath', 32],
];

export = function (RED: NodeAPI): void {
  function YkcOtaNode(this: OtaNode, config: YkcOtaDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const runner = new CommandRunner(RED, node, config, serverOf(RED, config), { type: 'ykc-ota', outputs: 3 });
    const judge = resultJudge({ field: 'status', ok: 0, table: 'status' });

    function body(msg: NodeMessage): Record<string, unknown> {
      const pileNo = runner.pile(msg);
      const f = runner.fields(msg, {
        pileModel: config.pileModel,
        pilePower: config.pilePower,
        ftpHost: config.ftpHost,
        ftpPort: config.ftpPort === undefined || config.ftpPort === '' ? 21 : config.ftpPort,
        ftpUser: config.ftpUser,
        ftpPassword: node.credentials?.ftpPassword,
        ftpPath: config.ftpPath,
        runWhen: config.runWhen === undefined || config.runWhen === '' ? 1 : config.runWhen,
        timeoutMinutes: config.timeoutMinutes,
      });
      for (const [name, width] of WIDTHS) {
        const v = f[name] ?? '';
        if (typeof v !== 'string') throw runner.fieldError('notText', { field: name });
        // eslint-disable-next-line no-control-regex
        if (!/^[\x20-\x7e]*$/.test(v)) throw runner.fieldError('notAscii', { field: name });
        if (v.length > width) throw runner.fieldError('tooLong', { field: name, width, length: v.length });
      }
      if (!present(f.ftpHost)) throw runner.fieldError('noHost');
      if (!present(f.ftpPath)) throw runner.fieldError('noPath');
      for (const name of ['pileModel', 'pilePower', 'timeoutMinutes']) if (!present(f[name])) throw runner.fieldError('missing', { field: name });
      const port = numeric(f.ftpPort);
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw runner.fieldError('badPort', { port: String(f.ftpPort) });
      const minutes = numeric(f.timeoutMinutes);
      if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 255) throw runner.fieldError('badMinutes', { minutes: String(f.timeoutMinutes) });
      return {
        pileNo,
        pileModel: numeric(f.pileModel),
        pilePower: numeric(f.pilePower),
        ftpHost: f.ftpHost,
        ftpPort: port,
        ftpUser: f.ftpUser ?? '',
        ftpPassword: f.ftpPassword ?? '',
        ftpPath: f.ftpPath,
        runWhen: numeric(f.runWhen),
        timeoutMinutes: minutes,
      };
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void runner.handle(msg, send, done, (m) => {
        const b = body(m);
        const pileNo = b.pileNo as string;
        const timeoutMs = runner.timeoutMs() ?? (b.timeoutMinutes as number) * 60_000 + 30_000;
        const exchange = requestExchange({ type: 0x94, body: b, judge, timeoutMs });
        return { plans: [{ pileNo, exchange }], multi: false };
      });
    });
  }
  RED.nodes.registerType('ykc-ota', YkcOtaNode as unknown as (this: Node, def: YkcOtaDef) => void, {
    credentials: { ftpPassword: { type: 'password' } },
  });
};
