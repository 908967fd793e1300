/**
 * ykc-encode: a frame object in the decoded-frame shape (docs/architecture.md §2) → the frame's bytes.
 * Anything the codec refuses goes to done(err) with its code, and nothing is sent.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { encodeFrame, FrameInput, schemaForName, schemaForType, typeHex, YkcError } from '../src/protocol';
import { catalogueDescriber, toNodeError } from './shared/errors';

interface YkcEncodeDef extends NodeDef {
  /** Message property holding the frame object; the bytes are written back to it. Default "payload". */
  property?: string;
  /** Empty: the property holds a whole frame {type | name, seq, body}. A frame name: it holds the body. */
  frameType?: string;
  /** "buffer" (default) or "hex". */
  output?: 'buffer' | 'hex';
}

interface StatusWithDetail extends NodeStatus {
  frame?: string;
  code?: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The frame to encode from msg: the whole object, or (with a fixed frame type) the body. */
function frameOf(value: unknown, frameType: string, msg: NodeMessage): FrameInput {
  let v = value;
  if (typeof value === 'string') {
    try {
      v = JSON.parse(value);
    } catch {
      throw new YkcError('YKC_INPUT', `the text is not JSON: "${value.length > 60 ? value.slice(0, 60) + '…' : value}"`);
    }
  }
  if (!isPlainObject(v)) {
    const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : Buffer.isBuffer(v) ? 'Buffer' : typeof v;
    throw new YkcError('YKC_INPUT', frameType ? `expected the ${frameType} body as an object, got ${kind}` : `expected a frame object { type | name, seq, body }, got ${kind}`, { got: kind });
  }
  if (!frameType) return v as FrameInput;
  // A reply copies the request's sequence bytes (docs/architecture.md §3); a decoded request carries them in msg.ykc.
  const ykc = msg.ykc as { seq?: unknown } | undefined;
  const seq = ykc && Number.isInteger(ykc.seq) ? (ykc.seq as number) : 0;
  return { type: frameType, seq, body: v as FrameInput['body'] };
}

export = function (RED: NodeAPI): void {
  function YkcEncodeNode(this: Node, config: YkcEncodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const property = config.property || 'payload';
    const frameType = (config.frameType || '').trim();
    const asHex = config.output === 'hex';
    const describe = catalogueDescriber(RED, 'ykc-encode');
    let lastStatus = '';

    function setStatus(s: StatusWithDetail): void {
      const key = `${s.fill}|${s.shape}|${s.text}|${s.frame ?? ''}|${s.code ?? ''}`;
      if (key === lastStatus) return;
      lastStatus = key;
      node.status(s);
    }

    if (frameType && !schemaForName(frameType)) {
      // Bad config never throws: the node says so and refuses each message with the same code.
      node.error(RED._('ykc-encode.errors.bad-frame-type', { frameType }));
      setStatus({ fill: 'red', shape: 'ring', text: RED._('ykc-encode.status.error', { code: 'YKC_UNKNOWN_TYPE' }), code: 'YKC_UNKNOWN_TYPE' });
    }

    node.on('input', (msg, send, done) => {
      try {
        const frame = frameOf(RED.util.getMessageProperty(msg, property), frameType, msg);
        const bytes = encodeFrame(frame);
        const name = schemaForType(bytes[5])?.name ?? typeHex(bytes[5]);
        RED.util.setMessageProperty(msg, property, asHex ? bytes.toString('hex').toUpperCase() : bytes, true);
        setStatus({ fill: 'green', shape: 'dot', text: RED._('ykc-encode.status.frame', { name }), frame: name });
        send(msg);
        done();
      } catch (e) {
        const err = toNodeError(e, describe);
        setStatus({ fill: 'red', shape: 'ring', text: RED._('ykc-encode.status.error', { code: err.code }), code: err.code });
        done(err);
      }
    });
  }

  RED.nodes.registerType('ykc-encode', YkcEncodeNode);
};
