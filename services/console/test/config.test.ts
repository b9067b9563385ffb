import { ConfigError, createService } from '@fleet/chassis';
import { LogCapture } from '@fleet/chassis/testing';
import { describe, expect, it } from 'vitest';
import { consoleOptions, parseServices } from '../src/index.js';

describe('CONSOLE_SERVICES', () => {
  it('parses services, defaulting the kind and trimming the URL', () => {
    expect(
      parseServices(
        JSON.stringify([
          { name: 'alf', url: 'http://127.0.0.1:4101/', kind: 'alf' },
          { name: 'hello', url: 'https://hello.internal' },
        ]),
      ),
    ).toEqual({
      services: [
        { name: 'alf', url: 'http://127.0.0.1:4101', kind: 'alf' },
        { name: 'hello', url: 'https://hello.internal', kind: 'service' },
      ],
      problems: [],
    });
  });

  it('reports every problem at once', () => {
    const { problems } = parseServices(
      JSON.stringify([
        { name: 'alf', url: 'http://a:1', kind: 'kafka' },
        { name: 'alf', url: 'ftp://b', kind: 'alf' },
        { name: 'Bad Name', url: 'http://c' },
        'just a string',
        { name: 'x', url: 'http://x', extra: 1 },
      ]),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^console\.services\[0\]\.kind: unknown kind "kafka"/),
      'console.services[1].name: duplicate service name "alf"',
      'console.services[1].url: must be an http(s) URL (got "ftp://b")',
      expect.stringMatching(/^console\.services\[2\]\.name: must be a name/),
      'console.services[3]: must be an object { name, url, kind }',
      'console.services[4]: unknown key "extra"',
    ]);
    expect(parseServices('{nope').problems).toEqual([expect.stringMatching(/not valid JSON/)]);
    expect(parseServices('{}').problems).toEqual([expect.stringMatching(/must be a JSON array/)]);
  });

  it('a malformed CONSOLE_SERVICES fails start-up with a ConfigError listing every problem', async () => {
    const service = await createService({
      ...consoleOptions,
      configSources: {
        env: {
          PORT: '0',
          CONSOLE_SERVICES: JSON.stringify([
            { name: 'a', url: 'http://a', kind: 'mystery' },
            { name: 'a', url: 'file:///etc/passwd' },
          ]),
        },
        argv: [],
      },
      logDestination: new LogCapture(),
    });
    try {
      const error = await service.app.ready().then(
        () => null,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/services\[0\]\.kind: unknown kind "mystery"/),
        expect.stringMatching(/services\[1\]\.name: duplicate/),
        expect.stringMatching(/services\[1\]\.url: must be an http\(s\) URL/),
      ]);
      expect((error as ConfigError).exitCode).toBe(78);
    } finally {
      await service.stop();
    }
  });
});
