export { type AlfConfig, alfSchema } from './config.js';
export { type DialFlags, Dials } from './dials.js';
export { Forwarder, type ForwarderOptions, type ReloadResult } from './forwarder.js';
export { type IndexedField, Pipeline, type PipelineSettings, type TopReport } from './pipeline.js';
export { parseRules, parseRulesText, type Rules, RulesError } from './rules.js';
export { ALF_VERSION, alf, alfOptions, forwarderOf } from './service.js';
