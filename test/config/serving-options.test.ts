import {execFileSync} from 'node:child_process';
import {join} from 'node:path';
import {describe, expect, it} from '@jest/globals';
import {checkRouteOptions, checkServingOptions, ROUTING_ACTIONS, ROUTING_CONDITIONS} from '../../src/config/serving-options.js';
import {checkServerOptions} from '../../src/config/server-config.js';
import type {OptionValue} from '../../src/config/values.js';
import {formatError} from '../../src/errors.js';

const values = (entries: Record<string, OptionValue>) => new Map(Object.entries(entries));
const codes = (entries: Record<string, OptionValue>) => checkRouteOptions(values(entries), {file: 'app.ini'}).map((d) => `${d.key} ${d.code}`);

describe('checkRouteOptions', () => {
  it('accepts the actions real files use, with and without a subject', () => {
    expect(codes({
      route: ['^/foo basicauth:foobar,kratos:', '.* basicauth:nether realm 2,.htpasswd', '^/old/(.*) redirect-301:/new/$1', '^/x rewrite:/y?z=1'],
      'route-run': ['addheader:X-A: 1', 'donotlog:', 'goto:end'],
      'route-host': ['^www\\. redirect:https://example.com${REQUEST_URI}'],
      'route-uri': ['^/admin return:403'],
    })).toEqual([]);
  });

  it('accepts route-if and route-if-not with uWSGI\'s conditions, and refuses an unknown condition or a missing colon', () => {
    expect(codes({
      'route-if': ['equal:${PATH_INFO};/health donotlog:', 'regexp:${HTTP_HOST};^www\\.(.*) redirect-301:https://$1${REQUEST_URI}'],
      'route-if-not': ['empty:${HTTP_AUTHORIZATION} addheader:X-Auth: yes', 'ipv4in:${REMOTE_ADDR};10.0.0.0/8 return:403'],
    })).toEqual([]);
    expect(codes({'route-if': ['nosuch:${PATH_INFO};/ return:403', 'equal ${PATH_INFO} return:403', 'equal:a;a']})).toEqual([
      'route-if KAISER_CONFIG_BAD_VALUE', 'route-if KAISER_CONFIG_BAD_VALUE', 'route-if KAISER_CONFIG_BAD_VALUE',
    ]);
    expect(codes({'route-if-not': ['equal:a;b cache:x']})).toEqual(['route-if-not KAISER_CONFIG_ROUTE_ACTION']);
  });

  it('refuses an action kaiser does not run, naming the key and the rule', () => {
    const [problem] = checkRouteOptions(values({route: ['^/img cache:key=${REQUEST_URI}']}), {file: 'app.ini', line: 3});
    expect(problem?.code).toBe('KAISER_CONFIG_ROUTE_ACTION');
    expect(problem?.key).toBe('route');
    expect(formatError('KAISER_CONFIG_ROUTE_ACTION', {action: 'cache', key: 'route', rule: '^/img cache:key=x'})).toContain('routing action "cache" of route = ^/img cache:key=x');
    expect(codes({'route-run': ['setvar:A=1']})).toEqual(['route-run KAISER_CONFIG_ROUTE_ACTION']);
  });

  it('refuses a rule without a regexp, an action without a colon, and half-written arguments', () => {
    expect(codes({route: ['^/nothing'], 'route-run': ['continue'], 'route-uri': ['^/ basicauth:realm-only', '^/ addvar:NOEQUALS']})).toEqual([
      'route KAISER_CONFIG_BAD_VALUE', 'route-uri KAISER_CONFIG_BAD_VALUE', 'route-uri KAISER_CONFIG_BAD_VALUE', 'route-run KAISER_CONFIG_BAD_VALUE',
    ]);
  });

  it('is part of the app server checks', () => {
    const problems = checkServerOptions(values({module: 'app', 'http-socket': ['127.0.0.1:0'], route: ['^/ cache:x']}), {file: 'a.ini'});
    expect(problems.map((d) => d.code)).toEqual(['KAISER_CONFIG_ROUTE_ACTION']);
  });

  it('refuses static-map, static-map2 and mount without PREFIX=TARGET', () => {
    const found = checkServingOptions(values({'static-map': ['/static=/srv/s', '/nothing'], mount: ['/api'], 'static-map2': ['/x=y']}), {file: 'a.ini'});
    expect(found.map((d) => `${d.key} ${d.code}`)).toEqual(['static-map KAISER_CONFIG_BAD_VALUE', 'mount KAISER_CONFIG_BAD_VALUE']);
  });

  it('warns that workers of other languages and ASGI apps do not apply them', () => {
    const found = checkServingOptions(values({psgi: 'app.psgi', 'add-header': ['X: 1'], route: ['^/ return:403']}), {file: 'a.ini'});
    expect(found.map((d) => `${d.key} ${d.code} ${d.severity}`)).toEqual(['add-header KAISER_CONFIG_NOT_APPLIED warning', 'route KAISER_CONFIG_NOT_APPLIED warning']);
    expect(checkServingOptions(values({module: 'app', 'add-header': ['X: 1']}), {file: 'a.ini'})).toEqual([]);
  });

  it('knows the same conditions as the app server (route_conditions.py)', () => {
    const script = `import json,sys; sys.path.insert(0, ${JSON.stringify(join(process.cwd(), 'src/server/python'))}); import _kaiser_bootstrap; from _kaiser.route_conditions import CONDITIONS; print(json.dumps(sorted(CONDITIONS)))`;
    const python = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'})) as string[];
    expect(python).toEqual([...ROUTING_CONDITIONS].sort());
  });

  it('knows the same actions as the app server (route_actions.py)', () => {
    const script = `import json,sys; sys.path.insert(0, ${JSON.stringify(join(process.cwd(), 'src/server/python'))}); import _kaiser_bootstrap; from _kaiser.route_actions import ACTIONS; print(json.dumps(sorted(ACTIONS)))`;
    const python = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'})) as string[];
    expect(python).toEqual([...ROUTING_ACTIONS].sort());
  });
});
