import { describe, expect, it } from 'vitest';
import { DEBUG, ERROR, FATAL, INFO, TRACE, WARN } from './levels.js';
import { ScanPlan, ScanResult, scanRecord } from './record.js';
import { DEFAULT_ROUTE, Router } from './router.js';
import { compileGlob, parseLevels, parseRules, parseRulesText, RulesError } from './rules.js';
import { ServiceState } from './services.js';

describe('rules', () => {
  it('compiles globs', () => {
    expect(compileGlob('tweet-*')('tweet-api')).toBe(true);
    expect(compileGlob('tweet-*')('tweets')).toBe(false);
    expect(compileGlob('a?c')('abc')).toBe(true);
    expect(compileGlob('a.c')('abc')).toBe(false);
    expect(compileGlob('*')('')).toBe(true);
  });

  it('parses level sets', () => {
    const problems: string[] = [];
    expect(parseLevels('<=info', 'x', problems)).toEqual([true, true, true, false, false, false]);
    expect(parseLevels('>warn', 'x', problems)).toEqual([false, false, false, false, true, true]);
    expect(parseLevels(['debug', 'TRACE'], 'x', problems)).toEqual([true, true, false, false, false, false]);
    expect(parseLevels('*', 'x', problems)).toBeNull();
    expect(problems).toEqual([]);
    parseLevels('verbose', 'x', problems);
    expect(problems).toEqual(["x: unknown level 'verbose' (use trace, debug, info, warn, error, fatal)"]);
  });

  it('lists every problem of a document', () => {
    let error: RulesError | undefined;
    try {
      parseRules({
        routes: [
          { match: { service: 5, level: 'loud' }, index: 'a b' },
          { match: { fields: { 'a.b.c': 'x' } }, drop: true, index: 'x' },
          'nope',
        ],
        limits: [{ service: 'x' }, { rate: -1, per: 'everyone' }],
        budget: { eventsPerSec: 'lots' },
        extra: 1,
      });
    } catch (err) {
      error = err as RulesError;
    }
    expect(error).toBeInstanceOf(RulesError);
    expect(error!.problems).toEqual([
      "rules: unknown key 'extra' (allowed: routes, defaultRoute, limits, budget)",
      'routes[0].match.service: must be a non-empty glob or a list of them',
      "routes[0].match.level: unknown level 'loud' (use trace, debug, info, warn, error, fatal)",
      'routes[0].index: must be a name',
      "routes[1].match.fields: field path 'a.b.c' must be 'name' or 'parent.name'",
      'routes[1]: a drop route takes no index, sourcetype or fields',
      'routes[2]: must be an object',
      'limits[0].rate: required (events per second)',
      'limits[1].rate: must be a number >= 0',
      "limits[1].per: must be 'service' or 'rule'",
      'budget.eventsPerSec: must be a number >= 0',
    ]);
  });

  it('reports bad JSON with its origin', () => {
    expect(() => parseRulesText('{"routes": [', 'rules.json')).toThrow(/rules\.json: not valid JSON/);
    expect(parseRulesText('', 'x').routes).toEqual([]);
  });
});

function event(text: string, plan: ScanPlan, scan: ScanResult): Buffer {
  const buf = Buffer.from(text);
  expect(scanRecord(buf, plan, scan)).toBe(0);
  return buf;
}

describe('Router', () => {
  const rules = parseRules({
    defaultRoute: { index: 'main', sourcetype: 'alf' },
    routes: [
      { match: { service: 'noisy-*', level: '<=debug' }, drop: true },
      {
        match: { service: 'payments', fields: { 'fields.region': 'eu-*' } },
        index: 'pay_eu',
        sourcetype: 'pay',
      },
      {
        match: { service: ['payments', 'billing'] },
        index: 'pay',
        sourcetype: 'pay',
        fields: { team: 'money' },
      },
      { match: { level: '>=error', topic: 'audit.*' }, index: 'audit' },
    ],
  });

  it('takes the first matching route, in order', () => {
    const plan = new ScanPlan();
    const router = new Router(1, rules, plan, ['logs', 'audit.main']);
    const scan = new ScanResult(plan.slots);
    const topic = router.topicIndex('logs');
    const noisy = new ServiceState('noisy-app', 'noisy-app');
    const buf = event('{"service":"noisy-app"}', plan, scan);
    expect(router.resolve(noisy, DEBUG, topic, 'logs', buf, scan)).toBe(0);
    expect(router.resolve(noisy, TRACE, topic, 'logs', buf, scan)).toBe(0);
    expect(router.resolve(noisy, INFO, topic, 'logs', buf, scan)).toBe(DEFAULT_ROUTE);

    const billing = new ServiceState('billing', 'billing');
    expect(router.resolve(billing, WARN, topic, 'logs', buf, scan)).toBe(2);
    expect(router.segment(billing, 2)).toBe(',"source":"billing","sourcetype":"pay","index":"pay"');
    expect(router.staticFields[3]).toBe('"team":"money"');

    const other = new ServiceState('other', 'other');
    expect(router.resolve(other, FATAL, router.topicIndex('audit.main'), 'audit.main', buf, scan)).toBe(3);
    expect(router.resolve(other, ERROR, topic, 'logs', buf, scan)).toBe(DEFAULT_ROUTE);
    expect(router.segment(other, DEFAULT_ROUTE)).toBe(',"source":"other","sourcetype":"alf","index":"main"');
    // A topic not in the list shares the "other topics" cache slots
    expect(router.resolve(other, ERROR, router.topicIndex('audit.x'), 'audit.x', buf, scan)).toBe(3);
  });

  it('evaluates field conditions per event and falls through to later routes', () => {
    const plan = new ScanPlan();
    const router = new Router(1, rules, plan, ['logs']);
    const scan = new ScanResult(plan.slots);
    const payments = new ServiceState('payments', 'payments');
    const eu = event('{"service":"payments","fields":{"region":"eu-west-1"}}', plan, scan);
    expect(router.resolve(payments, INFO, 0, 'logs', eu, scan)).toBe(1);
    const us = event('{"service":"payments","fields":{"region":"us-east-1"}}', plan, scan);
    expect(router.resolve(payments, INFO, 0, 'logs', us, scan)).toBe(2);
    const none = event('{"service":"payments"}', plan, scan);
    expect(router.resolve(payments, INFO, 0, 'logs', none, scan)).toBe(2);
  });

  it('drops cached decisions when the rules change', () => {
    const plan = new ScanPlan();
    const scan = new ScanResult(plan.slots);
    const state = new ServiceState('billing', 'billing');
    const buf = event('{"service":"billing"}', plan, scan);
    const first = new Router(1, rules, plan, ['logs']);
    expect(first.resolve(state, INFO, 0, 'logs', buf, scan)).toBe(2);
    const second = new Router(
      2,
      parseRules({ routes: [{ match: { service: 'bill*' }, index: 'b2' }] }),
      plan,
      ['logs'],
    );
    expect(second.resolve(state, INFO, 0, 'logs', buf, scan)).toBe(0);
    expect(second.segment(state, 0)).toBe(',"source":"billing","sourcetype":"alf","index":"b2"');
  });

  it('omits the index when none is configured (the token default applies)', () => {
    const plan = new ScanPlan();
    const router = new Router(1, parseRules({}), plan, []);
    const state = new ServiceState('s"q', 's');
    expect(router.segment(state, DEFAULT_ROUTE)).toBe(',"source":"s\\"q","sourcetype":"alf"');
  });
});
