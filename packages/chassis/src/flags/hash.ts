/**
 * MurmurHash3 (x86, 32-bit) over the UTF-8 encoding of JavaScript strings, computed straight from
 * the UTF-16 char codes: no Buffer, no TextEncoder, no concatenated string, no allocation.
 *
 * The rollout bucket of a key is `murmur3(name + ':' + key) % 10000`. This is a wire format: every
 * process and every version must compute the same bucket for the same key, or users flip between
 * on and off when services disagree or after an upgrade. The known-answer tests in hash.test.ts pin it.
 *
 * Hashing is a stream: the state after `name + ':'` is computed once per flag (HashPrefix) and the
 * key is fed on top of it, which gives exactly the hash of the concatenation. ASCII keys (nearly all
 * keys: ids, UUIDs, names) take an unrolled fast path (asciiBucket), the rest the general UTF-8 one.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Basis points: 10000 = 100 %. */
export const BUCKETS = 10_000;

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, k: number, n: number, len: number): number {
  if (n > 0) {
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Scratch for the intermediate state when a caller asks for it (never on the hot path). */
const STATE = new Int32Array(4);

/**
 * Feed the UTF-8 bytes of `str` into a murmur3 state (h: running hash, k/n: the pending partial
 * block and its byte count, len: bytes so far). Returns the finished hash, or, with `keepState`,
 * leaves the state in STATE and returns 0. Lone surrogates encode as U+FFFD, as Buffer/TextEncoder do.
 */
function feed(h: number, k: number, n: number, len: number, str: string, keepState: boolean): number {
  const length = str.length;
  let i = 0;
  while (i < length) {
    let c = str.charCodeAt(i++);
    if (c < 0x80) {
      k |= c << (n << 3);
      if (++n === 4) {
        h = mixBlock(h, k);
        k = 0;
        n = 0;
      }
      len++;
      continue;
    }
    // Multi-byte sequence, packed little-endian into `bytes`.
    let bytes: number;
    let count: number;
    if (c < 0x800) {
      bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i < length) {
      const d = str.charCodeAt(i);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        bytes =
          0xf0 |
          (cp >> 18) |
          ((0x80 | ((cp >> 12) & 0x3f)) << 8) |
          ((0x80 | ((cp >> 6) & 0x3f)) << 16) |
          ((0x80 | (cp & 0x3f)) << 24);
        count = 4;
      } else {
        bytes = 0xbdbfef; // U+FFFD
        count = 3;
      }
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
      count = 3;
    }
    for (let j = 0; j < count; j++) {
      k |= ((bytes >>> (j << 3)) & 0xff) << (n << 3);
      if (++n === 4) {
        h = mixBlock(h, k);
        k = 0;
        n = 0;
      }
    }
    len += count;
  }
  if (keepState) {
    STATE[0] = h;
    STATE[1] = k;
    STATE[2] = n;
    STATE[3] = len;
    return 0;
  }
  return finish(h, k, n, len);
}

/**
 * The hot path: the rollout bucket of `prefix + str` from the prefix's state, if `str` is all ASCII
 * (one UTF-8 byte per char); -1 at a non-ASCII char or when `str` is too short to complete the
 * prefix's pending block (the caller then takes the general path).
 *
 * No per-char loop: the chars that complete the prefix's pending block (4 - n, a per-flag constant)
 * and the 0-3 trailing chars are read as one group each, the rest four at a time. The constants are
 * written as literals because V8 does not fold module-level consts here: `% BUCKETS` compiled to a
 * hardware division, `% 10_000` to a multiply (roughly 30 % of the bucket's CPU time on the bench).
 * Allocation-free by construction: the mixing is written out rather than called, and the result is
 * a small integer (a full 32-bit value returned from a call V8 did not inline is boxed in a fresh
 * HeapNumber; this function is too large to inline).
 */
function asciiBucket(h: number, k: number, n: number, len: number, str: string): number {
  const length = str.length;
  let i = (4 - n) & 3;
  if (length < i) return -1;
  if (i !== 0) {
    // Complete the pending block (the prefix's last n bytes are in k's low bytes).
    const c0 = str.charCodeAt(0);
    const c1 = i > 1 ? str.charCodeAt(1) : 0;
    const c2 = i > 2 ? str.charCodeAt(2) : 0;
    if ((c0 | c1 | c2) >= 0x80) return -1;
    const c = (c0 | (c1 << 8) | (c2 << 16)) << ((4 - i) << 3);
    k = Math.imul(k | c, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const blocks = length - 3;
  for (; i < blocks; i += 4) {
    const c0 = str.charCodeAt(i);
    const c1 = str.charCodeAt(i + 1);
    const c2 = str.charCodeAt(i + 2);
    const c3 = str.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) return -1;
    let b = Math.imul(c0 | (c1 << 8) | (c2 << 16) | (c3 << 24), 0xcc9e2d51);
    b = (b << 15) | (b >>> 17);
    h ^= Math.imul(b, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length - i;
  if (tail !== 0) {
    const c0 = str.charCodeAt(i);
    const c1 = tail > 1 ? str.charCodeAt(i + 1) : 0;
    const c2 = tail > 2 ? str.charCodeAt(i + 2) : 0;
    if ((c0 | c1 | c2) >= 0x80) return -1;
    let t = c0 | (c1 << 8) | (c2 << 16);
    t = Math.imul(t, 0xcc9e2d51);
    t = (t << 15) | (t >>> 17);
    h ^= Math.imul(t, 0x1b873593);
  }
  h ^= len + length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 10_000; // BUCKETS
}

/** MurmurHash3 x86 32-bit of the UTF-8 encoding of `str` (unsigned). */
export function murmur3(str: string, seed = 0): number {
  return feed(seed | 0, 0, 0, 0, str, false);
}

/** MurmurHash3 x86 32-bit of raw bytes (unsigned): the reference the string version must match. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  let h = seed | 0;
  let k = 0;
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    k |= bytes[i]! << (n << 3);
    if (++n === 4) {
      h = mixBlock(h, k);
      k = 0;
      n = 0;
    }
  }
  return finish(h, k, n, bytes.length);
}

/**
 * The hash state after a fixed prefix (a flag's `name + ':'`), so that hashing `prefix + key`
 * costs only the key's bytes.
 */
export class HashPrefix {
  readonly h: number;
  readonly k: number;
  readonly n: number;
  readonly len: number;

  constructor(readonly prefix: string) {
    feed(0, 0, 0, 0, prefix, true);
    this.h = STATE[0]!;
    this.k = STATE[1]!;
    this.n = STATE[2]!;
    this.len = STATE[3]!;
  }

  /** murmur3(prefix + key), without building the string. */
  hash(key: string): number {
    return feed(this.h, this.k, this.n, this.len, key, false);
  }

  /** The rollout bucket of `key`, 0..9999. Allocation-free for ASCII keys. */
  bucket(key: string): number {
    const bucket = asciiBucket(this.h, this.k, this.n, this.len, key);
    return bucket >= 0 ? bucket : feed(this.h, this.k, this.n, this.len, key, false) % BUCKETS;
  }
}

/** The rollout bucket (0..9999) of `key` for flag `name`: a key is in when bucket < value. */
export function rolloutBucket(name: string, key: string): number {
  return murmur3(`${name}:${key}`) % BUCKETS;
}

/** xorshift32 state: a typed array, so updating it never boxes a number. */
const RANDOM = new Uint32Array(1);
do RANDOM[0] = (Math.random() * 2 ** 32) >>> 0;
while (RANDOM[0] === 0);

/**
 * A uniformly random bucket 0..9999 for evaluations without a key: xorshift32, allocation-free
 * (Math.random returns a boxed double on every call). Not for anything needing unpredictability.
 */
export function randomBucket(): number {
  let x = RANDOM[0]!;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  RANDOM[0] = x;
  return RANDOM[0]! % 10_000; // BUCKETS, as a literal: see asciiBucket
}
