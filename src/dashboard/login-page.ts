/**
 * The one page served without authentication: a form that posts a token to `/api/login`, which answers with the
 * session cookie and a redirect to `/`. Self-contained (its style is inline, allowed by its hash in the CSP), so no
 * asset has to be public. It shows no data: the only variable text is a fixed message.
 */
import {createHash} from 'node:crypto';

const STYLE =
  'body{font:15px system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:grid;place-items:center;height:100vh;margin:0}' +
  'form{background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.8em;min-width:18em}' +
  'h1{font-size:1.2em;margin:0}input,button{font:inherit;padding:.5em}button{background:#2f5fd0;color:#fff;border:0;border-radius:4px}' +
  'p{color:#b3261e;margin:0}';

/** The CSP `style-src` source that allows the inline style. */
export const LOGIN_STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** The login page; `failed` adds "wrong token". */
export function loginPage(failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>kaiser: sign in</title><style>${STYLE}</style></head>
<body><form method="post" action="/api/login">
<h1>kaiser dashboard</h1>
<label for="token">Token (from the dashboard token file)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${failed ? '<p id="error">wrong token</p>\n' : ''}<button type="submit">Sign in</button>
</form></body></html>
`;
}
