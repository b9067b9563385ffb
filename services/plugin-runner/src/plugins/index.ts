import type { Plugin } from '../plugin.js';
import { githubPlugin } from './github.js';
import { httpJsonPlugin } from './http-json.js';
import { jenkinsPlugin } from './jenkins.js';
import { slackPlugin } from './slack.js';

export { type GithubConfig, type GithubCursor, githubPlugin } from './github.js';
export { type HttpJsonConfig, httpJsonPlugin } from './http-json.js';
export { type JenkinsConfig, type JenkinsCursor, jenkinsPlugin } from './jenkins.js';
export { type SlackConfig, type SlackCursor, slackPlugin } from './slack.js';
export { parseJsonPath, parseLinkHeader, selectPath } from './util.js';

/** The plugins every runner has unless told otherwise. */
export const builtinPlugins: readonly Plugin[] = [githubPlugin, slackPlugin, jenkinsPlugin, httpJsonPlugin];
