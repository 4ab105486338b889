/**
 * Image inputs shared by the image providers (CLIP locally, E5-V and other multimodal models
 * remotely): a file path, an http(s) URL, a `data:image/…;base64,` URL, or the encoded bytes.
 * Formats are recognised by their magic bytes, not by file names or Content-Type headers, so a
 * misnamed file still works and an HTML error page behind an image URL is caught here, with the
 * URL in the message, instead of surfacing as an opaque decoder error on the embedding server.
 */
import { readFile } from 'node:fs/promises';
import { QuiverError } from '../../errors.js';
import type { ImageInput } from '../embedder.js';

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp' | 'image/bmp' | 'image/tiff';

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0) =>
  b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);

/** The image format of some bytes, from their signature; undefined when they are not an image. */
export function sniffImageType(bytes: Uint8Array): ImageMime | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return 'image/gif'; // "GIF8"
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8))
    return 'image/webp';
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length > 26) return 'image/bmp'; // "BM" + header
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'image/tiff';
  return undefined;
}

/** A short, printable name for an input in error messages (bytes and data URLs are not echoed). */
export function describeImage(input: ImageInput): string {
  if (typeof input !== 'string') return `${input.length} bytes`;
  if (input.startsWith('data:')) return `a data URL of ${input.length} characters`;
  return input;
}

const DATA_URL = /^data:([^;,]*)(;base64)?,/;

/** Bytes of an image input: a path, an http(s) URL, a data URL, or the bytes themselves. */
export async function loadImage(input: ImageInput): Promise<Uint8Array> {
  if (typeof input !== 'string') return input;
  if (/^https?:\/\//i.test(input)) {
    let res: Response;
    try {
      res = await fetch(input, { signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new QuiverError('REMOTE_ERROR', `could not fetch image ${input}: ${(e as Error).message}`, {
        cause: e,
        location: { field: 'image' },
      });
    }
    if (!res.ok) {
      throw new QuiverError('REMOTE_ERROR', `image ${input} answered ${res.status}`, {
        details: { status: res.status },
        location: { field: 'image' },
      });
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (!sniffImageType(bytes)) {
      const type = res.headers.get('content-type') ?? 'no content-type';
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `image URL ${input} returned ${type} (${bytes.length} bytes), not an image (PNG, JPEG, GIF, WebP, BMP or TIFF)`,
        { location: { field: 'image' } },
      );
    }
    return bytes;
  }
  const data = DATA_URL.exec(input);
  if (data) {
    if (!data[2]) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        'image data URLs must be base64-encoded (data:image/…;base64,…)',
        {
          location: { field: 'image' },
        },
      );
    }
    return Buffer.from(input.slice(data[0].length), 'base64');
  }
  try {
    return await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new QuiverError('FILE_NOT_FOUND', `no image at ${input}`, { location: { file: input } });
    }
    throw new QuiverError('INVALID_ARGUMENT', `cannot read image ${input}: ${(e as Error).message}`, {
      cause: e,
      location: { file: input },
    });
  }
}

/**
 * An image input as a `data:<mime>;base64,…` URL, the form OpenAI-compatible servers (vLLM)
 * accept in an `image_url` content part without fetching anything themselves. Inputs that are
 * not images are refused here with INVALID_ARGUMENT naming the input.
 */
export async function imageDataUrl(
  input: ImageInput,
): Promise<{ url: string; bytes: Uint8Array; mime: ImageMime }> {
  const bytes = await loadImage(input);
  const mime = sniffImageType(bytes);
  if (!mime) {
    const where =
      typeof input === 'string' && !input.startsWith('data:') ? { file: input } : { field: 'image' };
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `${describeImage(input)} is not an image (PNG, JPEG, GIF, WebP, BMP or TIFF expected)`,
      { location: where },
    );
  }
  return { url: `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`, bytes, mime };
}
