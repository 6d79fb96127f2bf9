/** Vassal defaults: precedence (vassal > _defaults.toml > --vassals-include), env merge, list replace, kind filter. */
import {describe, expect, it} from '@jest/globals';
import {checkDefaults, loadVassalSpec, type CommandVassalSpec, type AppServerVassalSpec} from '../../src/config/vassal-spec.js';

const ctx = (defaults: {file: string; text: string}[]) => ({vassalDir: '/srv/vassals', env: {}, defaults, fileExists: () => true});

describe('vassal defaults', () => {
  it('lets the vassal file win over _defaults.toml, which wins over --vassals-include', () => {
    const spec = loadVassalSpec('web.toml', 'exec = "run"\nstop-timeout = 3\n', ctx([
      {file: '/etc/kaiser/include.toml', text: 'stop-timeout = 1\nstart-timeout = 7\nlog-backups = 2\n'},
      {file: '/srv/vassals/_defaults.toml', text: 'start-timeout = 9\n'},
    ]));
    expect(spec.ok).toBe(true);
    const cmd = (spec as {value: CommandVassalSpec}).value;
    expect(cmd.stopTimeoutMs).toBe(3000);
    expect(cmd.startTimeoutMs).toBe(9000);
    expect(cmd.logBackups).toBe(2);
  });

  it('merges env per variable, the vassal winning, and expands %n in the vassal context', () => {
    const spec = loadVassalSpec('web.toml', 'exec = "run"\nenv = { A = "mine" }\n', ctx([
      {file: '/srv/vassals/_defaults.toml', text: 'env = { A = "default", APP = "%n" }\nlogto = "/var/log/%n.log"\n'},
    ]));
    const cmd = (spec as {value: CommandVassalSpec}).value;
    expect(cmd.env).toEqual({A: 'mine', APP: 'web'});
    expect(cmd.logto).toBe('/var/log/web.log');
  });

  it('skips defaults that do not apply to the kind, and lets a vassal list replace a default list', () => {
    const defaults = [{file: '/srv/vassals/_defaults.ini', text: '[uwsgi]\nprocesses = 4\ntouch-reload = /tmp/a\nharakiri = 20\n'}];
    const cmd = loadVassalSpec('job.toml', 'exec = "run"\n', ctx(defaults));
    expect(cmd.ok).toBe(true);
    const app = loadVassalSpec('app.ini', '[uwsgi]\nhttp-socket = :8000\nwsgi-file = app.py\ntouch-reload = /tmp/b\n', ctx(defaults));
    const server = (app as {value: AppServerVassalSpec}).value.serverConfig as Record<string, unknown>;
    expect(server['processes']).toBe(4);
    expect(server['harakiri']).toBe(20);
    expect(server['touch-reload']).toEqual(['/tmp/b']);
  });

  it('reports unknown keys and app keys in a defaults file on its own', () => {
    expect(checkDefaults('/srv/vassals/_defaults.toml', 'procesess = 2\n', {vassalDir: '/srv/vassals', env: {}}).map((d) => d.code)).toEqual(['KAISER_CONFIG_UNKNOWN_KEY']);
    expect(checkDefaults('/srv/vassals/_defaults.toml', 'wsgi-file = "x.py"\n', {vassalDir: '/srv/vassals', env: {}}).map((d) => d.code)).toEqual(['KAISER_CONFIG_CONFLICT']);
    expect(checkDefaults('/srv/vassals/_defaults.toml', 'stop-timeout = 2\nprocesses = 3\n', {vassalDir: '/srv/vassals', env: {}})).toEqual([]);
  });
});
