export { banner, URL_VARS, walkthrough } from './banner.js';
export type { Output } from './child.js';
export {
  type Demo,
  type DemoOptions,
  type DemoService,
  demoOptionsFromEnv,
  REPO_ROOT,
  startDemo,
} from './demo.js';
export { ALF_RULES, FLOOD_SERVICE, SERVICE_NAMES, type ServiceName } from './env.js';
export { type FakeApi, startFakeApi } from './fake-api.js';
export { PLUGIN_INSTANCE, pluginInstanceDefinition } from './plugin.js';
export { type DemoTokens, INDEX_SCOPES, PLUGIN_SCOPES } from './tokens.js';
