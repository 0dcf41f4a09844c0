/**
 * Unpredictable identifiers for branches, tags and tokens (RFC 3261 §8.1.1.7, §19.3: globally unique,
 * cryptographically random, at least 32 bits of randomness). Bytes come from crypto.randomFillSync in
 * pools of a few KiB, so one token costs a slice and a base64url encoding, not a syscall.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
let pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
let offset = 0;

function take(n: number): Buffer {
  if (offset + n > POOL_SIZE) {
    // A fresh buffer, never a refill in place: earlier slices may still be referenced.
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}

/** URL-safe (base64url, also a valid SIP token) random string carrying `bytes` random bytes. */
export function newToken(bytes = 12): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > POOL_SIZE) {
    throw new RangeError(`newToken: bytes must be an integer in 1..${POOL_SIZE}`);
  }
  return take(bytes).toString('base64url');
}

/** RFC 3261 §8.1.1.7 branch: the magic cookie "z9hG4bK" followed by 96 random bits. */
export function newBranch(): string {
  return 'z9hG4bK' + newToken(12);
}

/** From/To tag (RFC 3261 §19.3): 72 random bits. */
export function newTag(): string {
  return newToken(9);
}
