import { describe, expect, it } from 'vitest';
import { HashPrefix, murmur3, murmur3Bytes, rolloutBucket } from './hash.js';

describe('murmur3 (x86, 32-bit, UTF-8)', () => {
  // Published MurmurHash3_x86_32 test vectors.
  it.each([
    ['', 0, 0x00000000],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aa', 0x9747b28c, 0x5d211726],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['abc', 0, 0xb3dd93fa],
    ['test', 0, 0xba6bd213],
    ['Hello, world!', 0, 0xc0363e43],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('murmur3(%j, %d) = %d', (input, seed, expected) => {
    expect(murmur3(input, seed)).toBe(expected);
    expect(murmur3Bytes(Buffer.from(input, 'utf8'), seed)).toBe(expected);
  });

  it('hashes the UTF-8 bytes of any string, lone surrogates as U+FFFD', () => {
    const samples = [
      'Zoë',
      'user-😀',
      '日本語のキー',
      '\u{10FFFF}',
      '\uD800',
      'x\uDC00y',
      'a\uD83D',
      '\uD83D\uD83D\uDE00',
      'ÿ'.repeat(7),
    ];
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const length = Math.floor(random() * 20);
      for (let j = 0; j < length; j++) {
        const r = random();
        if (r < 0.5) s += String.fromCharCode(32 + Math.floor(random() * 95));
        else if (r < 0.8) s += String.fromCharCode(Math.floor(random() * 0x10000));
        else s += String.fromCodePoint(0x10000 + Math.floor(random() * 0xfffff));
      }
      samples.push(s);
    }
    for (const s of samples) expect(murmur3(s), JSON.stringify(s)).toBe(murmur3Bytes(Buffer.from(s, 'utf8')));
  });

  it('continues from a prefix exactly as hashing the concatenation', () => {
    for (const prefix of ['', 'a:', 'ab:', 'abc:', 'search.new_ranker:', 'ë:', '😀:']) {
      const state = new HashPrefix(prefix);
      for (const key of [
        '',
        'u',
        'user-1',
        'Zoë',
        '😀😀',
        'a much longer key than usual, past several blocks',
      ]) {
        expect(state.hash(key)).toBe(murmur3(prefix + key));
      }
    }
  });

  it('buckets prefix + key as the byte reference does, whatever the alignment and wherever a non-ASCII char is', () => {
    // The ASCII fast path reads the chars completing the prefix's pending block, whole blocks and a
    // 0-3 char tail separately: cover every prefix length mod 4, every key length up to 3 blocks,
    // and a non-ASCII char (2-, 3-byte, surrogate pair, lone surrogate) in each position.
    const odd = ['é', 'Ā', '\u0100', '日', '😀', '\uD800', '\u0080', '\u7f7f'];
    let count = 0;
    for (const prefix of ['a:', 'ab:', 'abc:', 'abcd:', 'search.new_ranker:']) {
      const state = new HashPrefix(prefix);
      for (let length = 0; length <= 14; length++) {
        const ascii = Array.from({ length }, (_, i) =>
          String.fromCharCode(33 + ((i * 37 + length) % 94)),
        ).join('');
        const keys = [ascii];
        for (let at = 0; at < length; at++)
          keys.push(ascii.slice(0, at) + odd[(at + length) % odd.length] + ascii.slice(at + 1));
        for (const key of keys) {
          expect(state.bucket(key), JSON.stringify([prefix, key])).toBe(
            murmur3Bytes(Buffer.from(prefix + key, 'utf8')) % 10_000,
          );
          count++;
        }
      }
    }
    expect(count).toBe(5 * (15 + (14 * 15) / 2));
  });
});

describe('rollout buckets', () => {
  // Pinned: changing any of these moves users between on and off across a deploy.
  it.each([
    ['search.new_ranker', 'user-42', 9584],
    ['alf.drop.debug', 'orders', 3715],
    ['search.new_ranker', '', 4830],
    ['checkout.v2', '4f9c2d1e-8b7a-4c3d-9e2f-1a2b3c4d5e6f', 5205],
    ['i18n.greeting', 'Zoë', 4929],
    ['emoji.flag', 'user-😀', 2528],
    ['a', 'b', 2131],
  ])('bucket(%s, %j) = %d', (name, key, bucket) => {
    expect(rolloutBucket(name, key)).toBe(bucket);
    expect(new HashPrefix(`${name}:`).bucket(key)).toBe(bucket);
  });
});
