import { describe, expect, it } from 'vitest';
import { classifyError, classifyResponse, parseHecBody, refusalReason } from './response.js';

describe('classifyResponse', () => {
  it.each([
    [200, { text: 'Success', code: 0 }, { kind: 'success' }],
    [200, { text: 'Success', code: 0, ackId: 7 }, { kind: 'success', ackId: 7 }],
    [200, {}, { kind: 'success' }],
    [503, { text: 'Server is busy', code: 9 }, { kind: 'retry', reason: 'busy', ambiguous: false }],
    [429, {}, { kind: 'retry', reason: 'throttled', ambiguous: false }],
    [
      500,
      { text: 'Internal server error', code: 8 },
      { kind: 'retry', reason: 'server_error', ambiguous: false },
    ],
    [502, {}, { kind: 'retry', reason: 'server_error', ambiguous: false }],
    [408, {}, { kind: 'retry', reason: 'timeout', ambiguous: false }],
    [403, { text: 'Token disabled', code: 1 }, { kind: 'stall', reason: 'token', code: 1, status: 403 }],
    [401, { text: 'Token is required', code: 2 }, { kind: 'stall', reason: 'token', code: 2 }],
    [401, { text: 'Invalid authorization', code: 3 }, { kind: 'stall', reason: 'token', code: 3 }],
    [403, { text: 'Invalid token', code: 4 }, { kind: 'stall', reason: 'token', code: 4 }],
    [
      400,
      { text: 'Query string authorization is not enabled', code: 16 },
      { kind: 'stall', reason: 'token' },
    ],
    [400, { text: 'Data channel is missing', code: 10 }, { kind: 'stall', reason: 'configuration' }],
    [400, { text: 'Invalid data channel', code: 11 }, { kind: 'stall', reason: 'configuration' }],
    [400, { text: 'ACK is disabled', code: 14 }, { kind: 'stall', reason: 'configuration' }],
    [404, { code: 404 }, { kind: 'stall', reason: 'configuration' }],
    [501, {}, { kind: 'stall', reason: 'configuration' }],
    [
      400,
      { text: 'Invalid data format', code: 6, 'invalid-event-number': 3 },
      { kind: 'partial', at: 3, code: 6 },
    ],
    [
      400,
      { text: 'Incorrect index', code: 7, 'invalid-event-number': 0 },
      { kind: 'partial', at: 0, code: 7 },
    ],
    [400, { code: 12, 'invalid-event-number': '5' }, { kind: 'partial', at: 5, code: 12 }],
    [400, { text: 'Invalid data format', code: 6 }, { kind: 'split', code: 6, status: 400 }],
    [413, { text: 'Content-Length of 9 too large', code: 413 }, { kind: 'split', status: 413 }],
  ] as const)('%i %j', (status, body, expected) => {
    expect(classifyResponse(status, body)).toMatchObject(expected);
  });

  it('passes Retry-After on', () => {
    expect(classifyResponse(503, { code: 9 }, 2000)).toMatchObject({ kind: 'retry', retryAfterMs: 2000 });
  });
});

describe('classifyError', () => {
  it('retries every failure, marking those HEC may have seen as ambiguous', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toMatchObject({
      kind: 'retry',
      reason: 'connection',
      ambiguous: false,
    });
    expect(classifyError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toMatchObject({
      reason: 'connection',
      ambiguous: true,
    });
    expect(classifyError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toMatchObject({
      reason: 'timeout',
      ambiguous: true,
    });
    expect(classifyError(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))).toMatchObject({
      reason: 'timeout',
      ambiguous: false,
    });
  });
});

describe('helpers', () => {
  it('parses bodies leniently and names refusals', () => {
    expect(parseHecBody('')).toEqual({});
    expect(parseHecBody('<html>')).toEqual({});
    expect(parseHecBody('[1]')).toEqual({});
    expect(parseHecBody('{"code":0}')).toEqual({ code: 0 });
    expect(refusalReason(7, 400)).toBe('hec_incorrect_index');
    expect(refusalReason(6, 400)).toBe('hec_invalid_event');
    expect(refusalReason(413, 413)).toBe('hec_too_large');
    expect(refusalReason(99, 400)).toBe('hec_rejected');
  });
});
