// The bytes /download serves: byte at offset o is o % 251. 251 is prime, so the
// pattern never lines up with power-of-two buffer sizes and a dropped, repeated
// or reordered chunk changes the hash. Tests recompute the expected hash here.

import { createHash } from 'node:crypto';

const PERIOD = 251;
/** One block of the pattern; its length is a multiple of the period, so every block is identical. */
export const DATA_BLOCK: Buffer = Buffer.from(Array.from({ length: PERIOD * 256 }, (_, i) => i % PERIOD));

/** Blocks (the last one shortened) that make up the first `size` bytes of the pattern. */
export function* dataBlocks(size: number): Generator<Buffer> {
  for (let sent = 0; sent < size; sent += DATA_BLOCK.length) {
    yield size - sent >= DATA_BLOCK.length ? DATA_BLOCK : DATA_BLOCK.subarray(0, size - sent);
  }
}

export function dataSha256(size: number): string {
  const hash = createHash('sha256');
  for (const block of dataBlocks(size)) hash.update(block);
  return hash.digest('hex');
}
