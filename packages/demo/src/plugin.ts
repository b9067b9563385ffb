/** The plugin-runner instance of the demo: the `http-json` plugin polling the fake API. */
export const PLUGIN_INSTANCE = 'demo-feed';

/** The instance's definition: items at `$.items`, the cursor is the last item's id (`?after=`). */
export function pluginInstanceDefinition(fakeApiUrl: string, every: string) {
  return {
    id: PLUGIN_INSTANCE,
    plugin: 'http-json',
    description: 'Demo: a fake status API where an item appears every second',
    schedule: { every },
    config: {
      url: `${fakeApiUrl}/items`,
      itemsPath: '$.items',
      cursorItemPath: 'id',
      cursorParam: 'after',
      initialCursor: 0,
      idPath: 'id',
      timestampPath: 'timestamp',
      messagePath: 'message',
      levelPath: 'level',
      fieldPaths: { user: 'user' },
      service: 'status-feed',
    },
  };
}

/**
 * Creates the instance through plugin-runner's API; when it exists (a kept database from an earlier
 * run) its config and schedule are updated to this run's fake API address.
 */
export async function createPluginInstance(
  baseUrl: string,
  token: string,
  fakeApiUrl: string,
  every: string,
) {
  const definition = pluginInstanceDefinition(fakeApiUrl, every);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`${baseUrl}/v1/instances`, {
    method: 'POST',
    headers,
    body: JSON.stringify(definition),
  });
  if (created.status === 201) return;
  const body = await created.text();
  if (created.status !== 409 || !body.includes('instance_exists'))
    throw new Error(`plugin-runner refused the demo instance: ${created.status} ${body}`);
  const patched = await fetch(`${baseUrl}/v1/instances/${PLUGIN_INSTANCE}`, {
    method: 'PATCH',
    headers,
    body: JSON.stringify({ config: definition.config, schedule: definition.schedule, enabled: true }),
  });
  if (!patched.ok)
    throw new Error(
      `plugin-runner refused the demo instance update: ${patched.status} ${await patched.text()}`,
    );
}
