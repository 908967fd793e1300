/**
 * What a virtual pile does with a remote update (0x94): fetch the file the frame names from its FTP
 * server, check it, and say which 0x93 status a real pile would answer and which firmware it would
 * restart with. Kept apart from the pile's session logic so the download can be tested alone.
 *
 * 0x93 statuses (docs/architecture.md → protocol): 0 success, 1 wrong pile number, 2 firmware does
 * not fit this model, 3 download timed out. The spec has no code for "login refused" or "no such
 * file": a pile that could not fetch its image within the time it was given reports 3, so every
 * transfer failure is 3; an image that arrived but cannot be used (empty, wrong size or checksum) is 2.
 */
import * as crypto from 'crypto';
import * as path from 'path';
import { ftpDownload, FtpError, FtpFailure, FTP_MAX_BYTES } from './ftp';

export interface OtaExpectation {
  /** Exact size in bytes. */
  size?: number;
  /** SHA-256 of the file, hex. */
  sha256?: string;
  /** MD5 of the file, hex (what 2.x platforms send along). */
  md5?: string;
}

export interface OtaOutcome {
  status: 0 | 2 | 3;
  /** The firmware the pile restarts with (status 0). */
  firmware?: string;
  bytes?: number;
  sha256?: string;
  /** Why it failed, for the pile's event and for whoever debugs the FTP server. */
  failure?: FtpFailure | 'empty' | 'size' | 'checksum';
  message?: string;
}

/** The file a pile fetches for a 0x94 path without a file name. */
export const OTA_DEFAULT_FILE = 'ykc-fw.bin';

/**
 * The spec: "path chosen by the platform, file name chosen by the pile vendor". A path ending in
 * "/" names a directory: the pile adds its vendor's file name.
 */
export function otaFilePath(ftpPath: string, fileName = OTA_DEFAULT_FILE): string {
  return ftpPath.endsWith('/') ? ftpPath + fileName : ftpPath;
}

/**
 * The firmware version a virtual pile restarts with (≤ 8 printable ASCII characters, the login
 * frame's field): the file name without its extension (`/fw/DC-4.2.bin` → `DC-4.2`), or, when the
 * platform named a directory, the directory's name (`/ykc/dc60/` → `dc60`).
 */
export function firmwareFromPath(ftpPath: string): string | null {
  const base = ftpPath.endsWith('/') ? path.posix.basename(ftpPath.slice(0, -1)) : path.posix.basename(ftpPath).replace(/\.[^.]*$/, '');
  const fw = base.replace(/[^\x21-\x7e]/g, '').slice(0, 8);
  return fw || null;
}

export async function downloadUpdate(
  body: Record<string, unknown>,
  opts: { expect?: OtaExpectation; firmware?: string; fileName?: string; maxBytes?: number; timeoutMs?: number },
): Promise<OtaOutcome> {
  const minutes = typeof body.timeoutMinutes === 'number' && body.timeoutMinutes > 0 ? body.timeoutMinutes : 1;
  let file: Buffer;
  try {
    file = await ftpDownload({
      host: String(body.ftpHost ?? ''),
      port: Number(body.ftpPort ?? 21),
      user: String(body.ftpUser ?? ''),
      password: String(body.ftpPassword ?? ''),
      path: otaFilePath(String(body.ftpPath ?? ''), opts.fileName),
      timeoutMs: opts.timeoutMs ?? minutes * 60_000,
      maxBytes: opts.maxBytes ?? FTP_MAX_BYTES,
    });
  } catch (e) {
    const failure = e instanceof FtpError ? e.failure : 'transfer';
    return { status: 3, failure, message: (e as Error).message };
  }
  const sha256 = crypto.createHash('sha256').update(file).digest('hex');
  const x = opts.expect ?? {};
  const bad = (failure: OtaOutcome['failure'], message: string): OtaOutcome => ({ status: 2, failure, message, bytes: file.length, sha256 });
  if (!file.length) return bad('empty', 'the downloaded firmware file is empty');
  if (x.size !== undefined && file.length !== x.size) return bad('size', `firmware is ${file.length} bytes, expected ${x.size}`);
  if (x.sha256 && x.sha256.toLowerCase() !== sha256) return bad('checksum', 'firmware SHA-256 does not match');
  if (x.md5 && x.md5.toLowerCase() !== crypto.createHash('md5').update(file).digest('hex')) return bad('checksum', 'firmware MD5 does not match');
  const firmware = opts.firmware ?? firmwareFromPath(String(body.ftpPath ?? '')) ?? undefined;
  return { status: 0, firmware, bytes: file.length, sha256 };
}
