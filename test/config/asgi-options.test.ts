import {describe, expect, it} from '@jest/globals';
import {checkAsgiOptions} from '../../src/config/asgi-options.js';
import {checkServerOptions} from '../../src/config/server-config.js';
import type {OptionValue} from '../../src/config/values.js';

const values = (entries: Record<string, OptionValue>) => new Map(Object.entries(entries));
const codes = (entries: Record<string, OptionValue>) => checkAsgiOptions(values(entries), {file: 'api.toml'}).map((d) => `${d.key} ${d.code}`);

describe('checkAsgiOptions', () => {
  it('accepts MODULE:APP as uvicorn takes it, dotted, with a factory call, or a module alone', () => {
    for (const app of ['main:app', 'pkg.sub.asgi:application', 'main:create_app()', 'main', 'main:api.app']) {
      expect(codes({asgi: app})).toEqual([]);
    }
  });

  it('refuses a file path, an empty name and stray characters, naming the key', () => {
    for (const app of ['./main:app', '/srv/main.py', 'main:', 'main:app:x', '']) {
      expect(codes({asgi: app})).toEqual(['asgi KAISER_CONFIG_BAD_VALUE']);
    }
  });

  it('checks asgi-loop and asgi-lifespan values', () => {
    expect(codes({asgi: 'main:app', 'asgi-loop': 'uvloop', 'asgi-lifespan': 'off'})).toEqual([]);
    expect(codes({asgi: 'main:app', 'asgi-loop': 'trio', 'asgi-lifespan': 'maybe'})).toEqual([
      'asgi-loop KAISER_CONFIG_BAD_VALUE', 'asgi-lifespan KAISER_CONFIG_BAD_VALUE',
    ]);
  });

  it('refuses threads with an ASGI app (one event loop per worker), and says nothing without asgi', () => {
    expect(codes({asgi: 'main:app', threads: 4})).toEqual(['threads KAISER_CONFIG_CONFLICT']);
    expect(codes({asgi: 'main:app', threads: 1})).toEqual([]);
    expect(codes({'wsgi-file': 'app.py', threads: 4, 'asgi-loop': 'trio'})).toEqual([]);
  });

  it('is part of the app server checks, and asgi is one app among the others', () => {
    const problems = checkServerOptions(values({asgi: 'main:app', module: 'flaskapp', 'http-socket': ['127.0.0.1:0']}), {file: 'a.ini'});
    expect(problems.map((d) => d.code)).toEqual(['KAISER_CONFIG_CONFLICT']);
    expect(checkServerOptions(values({asgi: 'main:app', 'http-socket': ['127.0.0.1:0']}), {file: 'a.ini'})).toEqual([]);
  });
});
