/**
 * A chatty vassal (issue 14): `exec = ["yes"]` used to take the emperor's one thread whole (every line split,
 * decoded, logged and kept), so `kaiser ls` took seconds and new vassals waited until it was removed. Its output now
 * has a budget (src/util/output-budget.ts): lines over it are dropped and counted (KAISER_VASSAL_OUTPUT_DROPPED),
 * reading pauses past the byte budget, and the emperor goes on answering and starting vassals beside it.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {mkdirSync} from 'node:fs';
import {connect} from 'node:net';
import {join} from 'node:path';
import {cleanupProcesses, freePort, PYTHON, publish, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';

afterEach(cleanupProcesses);

/** The vassal rows of one `ls` on the control socket, or undefined. */
function ls(path: string): Promise<{name: string; state: string}[] | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('{"cmd":"ls"}\n'));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!text.includes('\n')) return;
      socket.destroy();
      resolve((JSON.parse(text.split('\n')[0]!) as {vassals?: {name: string; state: string}[]}).vassals);
    });
    socket.on('error', () => resolve(undefined));
    socket.on('close', () => resolve(undefined));
  });
}

describe('a chatty vassal', () => {
  it('has its output lines over the budget dropped and counted, while the emperor answers and starts vassals', async () => {
    const dir = tempDir();
    const vassals = join(dir, 'vassals');
    mkdirSync(vassals);
    const control = join(dir, 'control.sock');
    const emperor = startKaiser(['--emperor', vassals, '--control', control], {cwd: dir});
    await emperor.waitForLine('Emperor', 10_000);
    publish(vassals, 'chatty.toml', 'exec = ["yes", "a line from a chatty vassal"]\nlogto = "chatty.log"\nlog-maxsize = 1000000\nlog-backups = 1\n');
    await emperor.waitForLine(/chatty\.toml.*KAISER_VASSAL_OUTPUT_DROPPED \d+ output lines dropped in \d+ s: over the budget of 5000 lines\/s per vassal/, 60_000);
    // Beside it, the control socket answers and a new vassal starts and serves.
    const rows = await waitFor(() => ls(control), 10_000, 'an answer to ls');
    expect(rows.find((r) => r.name === 'chatty.toml')?.state).toBe('ready');
    const port = await freePort();
    publish(vassals, 'late.toml', `exec = ["${PYTHON}", "-m", "http.server", "--bind", "127.0.0.1", "${port}"]\nready = "tcp://127.0.0.1:${port}"\n`);
    await waitFor200(port, 20_000);
    expect(emperor.child.exitCode).toBeNull();
  });
});
