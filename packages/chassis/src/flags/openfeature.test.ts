import { ErrorCode, type EventDetails, OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagsClient } from './client.js';
import { FleetFlagsProvider } from './openfeature.js';
import { MemoryFlagStore } from './store.js';
import { captureLogger, waitFor } from './test-helpers.js';

describe('OpenFeature provider', () => {
  const domain = `fleet-flags-test-${process.pid}`;
  let flags: FlagsClient;

  beforeAll(async () => {
    flags = new FlagsClient({
      store: new MemoryFlagStore([
        { name: 'of.rollout', value: 3000 },
        { name: 'of.on', value: 10_000 },
        { name: 'of.off', value: 0 },
      ]),
      log: captureLogger().log,
    });
    await flags.start();
    flags.define('of.defined', { default: true });
    await OpenFeature.setProviderAndWait(domain, new FleetFlagsProvider(flags));
  });
  afterAll(async () => {
    await OpenFeature.clearProviders();
    await flags.close();
  });

  it('evaluates booleans with isAvailable, sticky on the targeting key', async () => {
    const client = OpenFeature.getClient(domain);
    for (let i = 0; i < 200; i++) {
      const key = `user-${i}`;
      expect(await client.getBooleanValue('of.rollout', false, { targetingKey: key })).toBe(
        flags.isAvailable('of.rollout', key),
      );
    }
    const details = await client.getBooleanDetails('of.rollout', false, { targetingKey: 'user-1' });
    expect(details).toMatchObject({ reason: 'SPLIT', flagMetadata: { basisPoints: 3000, source: 'store' } });
    expect(await client.getBooleanDetails('of.on', false)).toMatchObject({ value: true, reason: 'STATIC' });
    expect(await client.getBooleanDetails('of.off', true)).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });
    expect(await client.getBooleanDetails('of.defined', false)).toMatchObject({
      value: true,
      reason: 'DEFAULT',
    });
  });

  it('evaluates numbers as basis points', async () => {
    const client = OpenFeature.getClient(domain);
    expect(await client.getNumberValue('of.rollout', -1)).toBe(3000);
  });

  it('answers the caller default with FLAG_NOT_FOUND for unknown flags and TYPE_MISMATCH for strings', async () => {
    const client = OpenFeature.getClient(domain);
    expect(await client.getBooleanDetails('of.unknown', true)).toMatchObject({
      value: true,
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
    expect(await client.getStringDetails('of.on', 'x')).toMatchObject({
      value: 'x',
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
  });

  it('emits ConfigurationChanged when a flag flips', async () => {
    const client = OpenFeature.getClient(domain);
    const events: EventDetails[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
      if (details) events.push(details);
    });
    await flags.set('of.rollout', 10_000, { by: 'test' });
    await waitFor(() => events.length > 0, { what: 'the event' });
    expect(events[0]).toMatchObject({ flagsChanged: ['of.rollout'] });
    expect(await client.getBooleanValue('of.rollout', false, { targetingKey: 'anyone' })).toBe(true);
  });
});
