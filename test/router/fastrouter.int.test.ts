/**
 * The fastrouter with real nginx in front: nginx `uwsgi_pass` → kaiser `--fastrouter` → the vassal whose domain is
 * the request's Host, over the vassal's uwsgi socket; an unknown Host gets a 404 through nginx; POST bodies pass.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, writeFileSync} from 'node:fs';
import {request} from 'node:http';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, publish, startKaiser, startProcess, tempDir, waitFor} from '../helpers/processes.js';

const NAME_APP = join(ROOT, 'test/fixtures/apps/name.py');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

afterEach(cleanupProcesses);

/** One request through nginx with `Host: host` (fetch cannot set Host). */
function viaNginx(port: number, host: string, method = 'GET', body = ''): Promise<{status: number; body: string} | undefined> {
  return new Promise((resolve) => {
    const req = request({host: '127.0.0.1', port, path: '/', method, agent: false, timeout: 5_000, headers: {host, connection: 'close', 'content-length': Buffer.byteLength(body)}}, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

describe('fastrouter', () => {
  (NGINX ? it : it.skip)('takes nginx uwsgi_pass requests to the vassal serving their Host over its uwsgi socket', async () => {
    const dir = tempDir();
    const [fr, a, b, nginxPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    publish(dir, 'a.toml', `socket = "127.0.0.1:${a}"\nwsgi-file = "${NAME_APP}"\nenv = { WHO = "a" }\ndomain = "a.test"\n`);
    publish(dir, 'b.toml', `socket = "127.0.0.1:${b}"\nwsgi-file = "${NAME_APP}"\nenv = { WHO = "b" }\ndomain = "*.b.test"\n`);
    const k = startKaiser(['--emperor', dir, '--fastrouter', `127.0.0.1:${fr}`, '--control', join(dir, 'c.sock')]);
    await k.waitForLine('fastrouter on', 20_000);
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 64; }\n` +
        `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fcgi;\n` +
        `  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n` +
        `  server {\n    listen 127.0.0.1:${nginxPort};\n    location / { include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:${fr}; }\n  }\n}\n`,
    );
    startProcess(NGINX as string, ['-c', conf, '-p', dir]);
    await waitFor(async () => (await viaNginx(nginxPort, 'a.test'))?.body === 'a', 30_000, 'a.test through nginx and the fastrouter');
    expect(await viaNginx(nginxPort, 'x.b.test')).toEqual({status: 200, body: 'b'});
    expect(await viaNginx(nginxPort, 'a.test', 'POST', 'posted')).toEqual({status: 200, body: 'a posted'});
    const unknown = await viaNginx(nginxPort, 'nope.test');
    expect(unknown?.status).toBe(404);
    expect(unknown?.body).toContain('no vassal serves nope.test');
  });
});
