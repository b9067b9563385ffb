import { describe, expect, it } from 'vitest';
import { HEC_STATUS, hecReply } from './codes.js';
import {
  fieldsAreValid,
  isBlankEvent,
  isValidChannel,
  objectEnd,
  parseTime,
  splitConcatenatedJson,
  splitRawLines,
  validateEventObject,
} from './parse.js';

const any = () => true;

describe('concatenated JSON splitting', () => {
  it('splits objects with no separator, spaces, newlines, CRLF and tabs', () => {
    for (const sep of ['', ' ', '\n', '\r\n', '\t \n ']) {
      const text = `{"event":"a"}${sep}{"event":"b"}${sep}{"event":"c"}${sep}`;
      expect(splitConcatenatedJson(text)).toEqual({
        objects: [{ event: 'a' }, { event: 'b' }, { event: 'c' }],
      });
    }
  });

  it('handles nested objects and arrays', () => {
    const text = '{"event":{"a":{"b":[1,{"c":[{}]}]}}}{"event":[{"x":{}}]}';
    expect(splitConcatenatedJson(text).objects).toEqual([
      { event: { a: { b: [1, { c: [{}] }] } } },
      { event: [{ x: {} }] },
    ]);
  });

  it('ignores braces and brackets inside strings', () => {
    const text = '{"event":"}}}{{{]]"}{"event":"{\\"not\\":\\"json\\"}"}';
    expect(splitConcatenatedJson(text).objects).toEqual([{ event: '}}}{{{]]' }, { event: '{"not":"json"}' }]);
  });

  it('handles escaped quotes and escaped backslashes before a closing quote', () => {
    const events = [
      { event: 'say "hi" }' },
      { event: 'ends with a backslash \\' },
      { event: '\\"}{' },
      { event: 'two \\\\', k: '"' },
    ];
    const text = events.map((e) => JSON.stringify(e)).join('');
    expect(splitConcatenatedJson(text).objects).toEqual(events);
  });

  it('handles unicode and \\u escapes', () => {
    const events = [{ event: 'héllo ✓ 🚀' }, { event: '\u007b\u007d' }, { event: 'x', s: '\\u0022' }];
    const text = events.map((e) => JSON.stringify(e)).join('\n');
    expect(splitConcatenatedJson(text).objects).toEqual(events);
    expect(splitConcatenatedJson('{"event":"\\u007b"}').objects).toEqual([{ event: '{' }]);
  });

  it('reports the zero-based number of the first malformed object', () => {
    expect(splitConcatenatedJson('[{"event":"a"}]')).toEqual({ objects: [], invalidAt: 0 });
    expect(splitConcatenatedJson('"just a string"')).toEqual({ objects: [], invalidAt: 0 });
    expect(splitConcatenatedJson('{"event":"a"} {"event":"b"} xyz')).toMatchObject({ invalidAt: 2 });
    expect(splitConcatenatedJson('{"event":"a"},{"event":"b"}')).toMatchObject({ invalidAt: 1 });
    expect(splitConcatenatedJson('{"event":"a"}{"event":"b"')).toMatchObject({ invalidAt: 1 });
    expect(splitConcatenatedJson('{"event":"a"}{"event":"unterminated}')).toMatchObject({ invalidAt: 1 });
    expect(splitConcatenatedJson('{"event":"a"}{"event":]}')).toMatchObject({ invalidAt: 1 });
    expect(splitConcatenatedJson('{"event":"a",}')).toMatchObject({ invalidAt: 0 });
  });

  it('finds object ends directly', () => {
    expect(objectEnd('{"a":"}"} tail', 0)).toBe(9);
    expect(objectEnd('{"a":1', 0)).toBe(-1);
  });

  it('treats an empty or whitespace body as no objects', () => {
    expect(splitConcatenatedJson('')).toEqual({ objects: [] });
    expect(splitConcatenatedJson(' \n\t')).toEqual({ objects: [] });
  });
});

describe('event validation', () => {
  it('requires the event field (12) and refuses a blank one (13)', () => {
    expect(validateEventObject({ time: 1 }, any)).toBe(12);
    expect(validateEventObject({ event: '' }, any)).toBe(13);
    expect(validateEventObject({ event: '   ' }, any)).toBe(13);
    expect(validateEventObject({ event: null }, any)).toBe(13);
    expect(validateEventObject({ event: 'x' }, any)).toBe(0);
    expect(validateEventObject({ event: 0 }, any)).toBe(0);
    expect(validateEventObject({ event: {} }, any)).toBe(0);
  });

  it('checks indexes (7)', () => {
    expect(validateEventObject({ event: 'x', index: 'nope' }, (i) => i === 'main')).toBe(7);
    expect(validateEventObject({ event: 'x', index: 'main' }, (i) => i === 'main')).toBe(0);
  });

  it('checks indexed fields are flat (15)', () => {
    expect(validateEventObject({ event: 'x', fields: { a: { b: 'c' } } }, any)).toBe(15);
    expect(validateEventObject({ event: 'x', fields: { a: ['x', ['y']] } }, any)).toBe(15);
    expect(validateEventObject({ event: 'x', fields: { a: [{}] } }, any)).toBe(15);
    expect(validateEventObject({ event: 'x', fields: 'flat?' }, any)).toBe(15);
    expect(validateEventObject({ event: 'x', fields: ['a'] }, any)).toBe(15);
    expect(validateEventObject({ event: 'x', fields: { a: 'b', c: ['d', 'e'], n: 1.5, t: true } }, any)).toBe(
      0,
    );
  });

  it('checks time and metadata types (6)', () => {
    expect(validateEventObject({ event: 'x', time: 'yesterday' }, any)).toBe(6);
    expect(validateEventObject({ event: 'x', time: {} }, any)).toBe(6);
    expect(validateEventObject({ event: 'x', host: 42 }, any)).toBe(6);
    expect(validateEventObject({ event: 'x', time: '1700000000.123' }, any)).toBe(0);
    expect(validateEventObject({ event: 'x', time: 1700000000.123 }, any)).toBe(0);
  });

  it('parses time, fields, channels and raw lines', () => {
    expect(parseTime(12.5)).toBe(12.5);
    expect(parseTime(' 12.5 ')).toBe(12.5);
    expect(parseTime('1e3')).toBe(1000);
    expect(parseTime('')).toBeNull();
    expect(parseTime(Number.NaN)).toBeNull();
    expect(fieldsAreValid(undefined)).toBe(true);
    expect(isBlankEvent(0)).toBe(false);
    expect(isValidChannel('11111111-2222-3333-4444-555555555555')).toBe(true);
    expect(isValidChannel('not-a-guid')).toBe(false);
    expect(splitRawLines('a\r\nb\n\n  \nc')).toEqual(['a', 'b', 'c']);
  });
});

describe('status table', () => {
  it('maps codes to Splunk statuses and texts', () => {
    expect(hecReply(0)).toEqual({ status: 200, body: { text: 'Success', code: 0 } });
    expect(hecReply(9)).toEqual({ status: 503, body: { text: 'Server is busy', code: 9 } });
    expect(hecReply(6, { invalidEventNumber: 3 }).body).toEqual({
      text: 'Invalid data format',
      code: 6,
      'invalid-event-number': 3,
    });
    expect(JSON.stringify(hecReply(0, { ackId: 7 }).body)).toBe('{"text":"Success","code":0,"ackId":7}');
    const statuses = Object.fromEntries(Object.entries(HEC_STATUS).map(([c, [s]]) => [c, s]));
    expect(statuses).toMatchObject({
      1: 403,
      2: 401,
      3: 401,
      4: 403,
      5: 400,
      8: 500,
      10: 400,
      14: 400,
      16: 400,
    });
    expect(() => hecReply(99)).toThrow();
  });
});
