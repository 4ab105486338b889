/**
 * The snapshot container shared by the inverted indexes (BM25, learned sparse): MAGIC, u32 header
 * length, JSON header, payload. The header carries the payload's length and sha256, so a torn or
 * altered file is detected; writes go to a temporary file that is fsynced and renamed, so a crash
 * leaves the previous snapshot or the new one, never half of one.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import { QuiverError } from '../../errors.js';

export interface SnapshotHeader {
  version: number;
  watermark: number;
  payloadBytes: number;
  sha256: string;
}

export async function writeSnapshot(
  path: string,
  magic: string,
  header: Omit<SnapshotHeader, 'payloadBytes' | 'sha256'> & Record<string, unknown>,
  payload: Buffer,
): Promise<void> {
  const headerBytes = Buffer.from(
    JSON.stringify({
      ...header,
      payloadBytes: payload.length,
      sha256: createHash('sha256').update(payload).digest('hex'),
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.length);
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(Buffer.concat([Buffer.from(magic), length, headerBytes, payload]));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Read and verify a snapshot (magic, header, format version, payload length and checksum). Any
 * sign of a torn or foreign file is INDEX_CORRUPT; `corrupt` lets the caller report its own checks
 * (parameters, fingerprints) the same way.
 */
export async function readSnapshot<H extends SnapshotHeader>(
  path: string,
  magic: string,
  version: number,
  what: string,
): Promise<{ header: H; payload: Buffer; corrupt: (why: string) => QuiverError }> {
  const buf = await readFile(path);
  const corrupt = (why: string) => new QuiverError('INDEX_CORRUPT', `${what} snapshot ${path}: ${why}`);
  if (buf.length < magic.length + 4 || buf.subarray(0, magic.length).toString() !== magic)
    throw corrupt('bad magic');
  const hlen = buf.readUInt32LE(magic.length);
  const hstart = magic.length + 4;
  if (hstart + hlen > buf.length) throw corrupt('truncated header');
  let header: H;
  try {
    header = JSON.parse(buf.subarray(hstart, hstart + hlen).toString('utf8')) as H;
  } catch {
    throw corrupt('unreadable header');
  }
  const payload = buf.subarray(hstart + hlen);
  if (header.version !== version) throw corrupt(`format version ${header.version}`);
  if (payload.length !== header.payloadBytes) throw corrupt('truncated payload');
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256)
    throw corrupt('checksum mismatch');
  return { header, payload, corrupt };
}
