import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagsClient } from './client.js';
import { MemoryFlagStore } from './store.js';
import { captureLogger } from './test-helpers.js';

const KEYS = 100_000;
const keys = Array.from({ length: KEYS }, (_, i) => `user-${i}`);
const NAME = 'search.new_ranker';

async function client(): Promise<FlagsClient> {
  const flags = new FlagsClient({ store: new MemoryFlagStore(), log: captureLogger().log });
  await flags.start();
  return flags;
}

function included(flags: FlagsClient): Uint8Array {
  const on = new Uint8Array(KEYS);
  for (let i = 0; i < KEYS; i++) on[i] = flags.isAvailable(NAME, keys[i]) ? 1 : 0;
  return on;
}

describe('percentage rollouts over 100k keys', () => {
  let flags: FlagsClient;
  let other: FlagsClient;
  beforeAll(async () => {
    flags = await client();
    other = await client();
  });
  afterAll(async () => {
    await flags.close();
    await other.close();
  });

  it('includes the target share of keys (within ±0.5 %) and never drops a key when raised', async () => {
    const steps = [0, 1, 10, 100, 500, 1000, 2500, 5000, 7500, 9000, 9999, 10_000];
    let previous: Uint8Array | undefined;
    for (const value of steps) {
      await flags.set(NAME, value, { by: 'test' });
      const on = included(flags);
      const share = on.reduce((sum, bit) => sum + bit, 0) / KEYS;
      expect(Math.abs(share - value / 10_000), `share at ${value} bp: ${share}`).toBeLessThanOrEqual(0.005);
      if (previous) {
        let lost = 0;
        for (let i = 0; i < KEYS; i++) if (previous[i] && !on[i]) lost++;
        expect(lost, `keys lost raising to ${value}`).toBe(0);
      }
      previous = on;
    }
    expect(previous!.every((bit) => bit === 1)).toBe(true);
  });

  it('is sticky: the same key gets the same answer, in every client (process)', async () => {
    await flags.set(NAME, 3300, { by: 'test' });
    await other.set(NAME, 3300, { by: 'test' });
    const first = included(flags);
    expect(Buffer.compare(included(flags), first)).toBe(0);
    expect(Buffer.compare(included(other), first)).toBe(0);
    for (let i = 0; i < 1000; i++) {
      expect(flags.isAvailable(NAME, { key: keys[i] })).toBe(first[i] === 1);
    }
  });

  it('lowering the value removes only keys above the new value (a kill removes all)', async () => {
    await flags.set(NAME, 5000, { by: 'test' });
    const half = included(flags);
    await flags.set(NAME, 2000, { by: 'test' });
    const fifth = included(flags);
    let added = 0;
    for (let i = 0; i < KEYS; i++) if (fifth[i] && !half[i]) added++;
    expect(added).toBe(0);
    await flags.set(NAME, 0, { by: 'test' });
    expect(included(flags).every((bit) => bit === 0)).toBe(true);
  });

  it('without a key is random per call, at the target rate', async () => {
    await flags.set(NAME, 2500, { by: 'test' });
    let on = 0;
    for (let i = 0; i < KEYS; i++) if (flags.isAvailable(NAME)) on++;
    expect(Math.abs(on / KEYS - 0.25)).toBeLessThan(0.01);
  });
});
