/**
 * How an exec'd app-server master is started (src/config/master-command.ts): an ASGI vassal's without site.py
 * (issue 17: its worker runs site.py after the fork, test_worker.RunSite), every other kind as before.
 */
import {describe, expect, it} from '@jest/globals';
import {MASTER_SCRIPT, masterArgs} from '../../src/config/master-command.js';

describe('masterArgs', () => {
  it('starts an ASGI vassal’s master with -S and the others without', () => {
    expect(masterArgs({asgi: 'app:app', processes: 1})).toEqual(['-S', MASTER_SCRIPT]);
    expect(masterArgs({'wsgi-file': 'app.py'})).toEqual([MASTER_SCRIPT]);
    expect(masterArgs({module: 'app', asgi: null})).toEqual([MASTER_SCRIPT]);
    expect(MASTER_SCRIPT).toMatch(/server\/python\/start_master\.py$/);
  });
});
