/**
 * Splunk HTTP Event Collector status codes: the `code` and `text` of every HEC JSON answer and
 * the HTTP status Splunk sends with it. Texts are byte-for-byte what Splunk answers, because
 * clients (ALF among them) may compare `text` as well as `code`.
 */
export const HecCode = {
  SUCCESS: 0,
  TOKEN_DISABLED: 1,
  TOKEN_REQUIRED: 2,
  INVALID_AUTHORIZATION: 3,
  INVALID_TOKEN: 4,
  NO_DATA: 5,
  INVALID_DATA_FORMAT: 6,
  INCORRECT_INDEX: 7,
  INTERNAL_SERVER_ERROR: 8,
  SERVER_BUSY: 9,
  DATA_CHANNEL_MISSING: 10,
  INVALID_DATA_CHANNEL: 11,
  EVENT_FIELD_REQUIRED: 12,
  EVENT_FIELD_BLANK: 13,
  ACK_DISABLED: 14,
  INDEXED_FIELDS_ERROR: 15,
  QUERY_STRING_AUTH_DISABLED: 16,
  HEALTHY: 17,
  UNHEALTHY_QUEUES_FULL: 18,
  UNHEALTHY_ACK_UNAVAILABLE: 19,
  UNHEALTHY_QUEUES_FULL_ACK_UNAVAILABLE: 20,
} as const;

export type HecCodeNumber = (typeof HecCode)[keyof typeof HecCode];

/** `code` → [HTTP status, text]. */
export const HEC_STATUS: Readonly<Record<number, readonly [status: number, text: string]>> = {
  0: [200, 'Success'],
  1: [403, 'Token disabled'],
  2: [401, 'Token is required'],
  3: [401, 'Invalid authorization'],
  4: [403, 'Invalid token'],
  5: [400, 'No data'],
  6: [400, 'Invalid data format'],
  7: [400, 'Incorrect index'],
  8: [500, 'Internal server error'],
  9: [503, 'Server is busy'],
  10: [400, 'Data channel is missing'],
  11: [400, 'Invalid data channel'],
  12: [400, 'Event field is required'],
  13: [400, 'Event field cannot be blank'],
  14: [400, 'ACK is disabled'],
  15: [400, 'Error in handling indexed fields'],
  16: [400, 'Query string authorization is not enabled'],
  17: [200, 'HEC is healthy'],
  18: [503, 'HEC is unhealthy, queues are full'],
  19: [503, 'HEC is unhealthy, ack service unavailable'],
  20: [503, 'HEC is unhealthy, queues are full, ack service unavailable'],
};

/** The JSON body HEC answers with. Key order matches Splunk's (`text`, `code`, then extras). */
export interface HecResponseBody {
  text: string;
  code: number;
  'invalid-event-number'?: number;
  ackId?: number;
}

export interface HecReply {
  status: number;
  body: HecResponseBody;
}

/** Builds the reply for a HEC code, with Splunk's HTTP status and text. */
export function hecReply(code: number, extra?: { invalidEventNumber?: number; ackId?: number }): HecReply {
  const entry = HEC_STATUS[code];
  if (!entry) throw new Error(`unknown HEC code ${code}`);
  const body: HecResponseBody = { text: entry[1], code };
  if (extra?.invalidEventNumber !== undefined) body['invalid-event-number'] = extra.invalidEventNumber;
  if (extra?.ackId !== undefined) body.ackId = extra.ackId;
  return { status: entry[0], body };
}

/** Codes that concern one event of a batch: Splunk adds `invalid-event-number` to these. */
export const PER_EVENT_CODES: ReadonlySet<number> = new Set([6, 7, 12, 13, 15]);
