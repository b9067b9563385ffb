// A complete plugin: incident updates of an Atlassian Statuspage page (GET /api/v2/incidents.json).
// Every change of an incident becomes one event; the cursor remembers the newest change delivered.
// Outside this repository, import from '@fleet/plugin-runner' instead of '../src/index.js'.
import { definePlugin } from '../src/index.js';

interface Incident {
  id: string;
  name: string;
  status: string;
  impact: string;
  updated_at: string;
}

const at = (incident: Incident) => Date.parse(incident.updated_at);

export const statuspagePlugin = definePlugin<{ baseUrl: string }, { updatedAt: string; ids: string[] }>({
  name: 'statuspage',
  version: '1.0.0',
  configSchema: {
    type: 'object',
    required: ['baseUrl'],
    additionalProperties: false,
    properties: { baseUrl: { type: 'string', format: 'uri' } },
  },
  compareCursors: (a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt),
  async *poll({ cursor, config, http }) {
    const url = new URL('/api/v2/incidents.json', config.baseUrl);
    const { data } = await http.json<{ incidents: Incident[] }>(url);
    const since = cursor ? Date.parse(cursor.updatedAt) : 0;
    const fresh = data.incidents
      .filter((i) => at(i) > since || (at(i) === since && !cursor?.ids.includes(i.id)))
      .sort((a, b) => at(a) - at(b));
    if (fresh.length === 0) return;
    const newest = fresh[fresh.length - 1]!.updated_at;
    const ids = fresh.filter((i) => i.updated_at === newest).map((i) => i.id);
    yield {
      events: fresh.map((i) => ({
        id: `${i.id}@${i.updated_at}`,
        timestamp: i.updated_at,
        level: i.impact === 'critical' || i.impact === 'major' ? 'error' : 'warn',
        message: `${i.name}: ${i.status}`,
        fields: { incident: i.id, status: i.status, impact: i.impact },
        data: i,
      })),
      cursor: { updatedAt: newest, ids: newest === cursor?.updatedAt ? [...cursor.ids, ...ids] : ids },
    };
  },
});
