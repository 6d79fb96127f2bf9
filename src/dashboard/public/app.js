// The dashboard page: a hash router (#/ overview, #/vassal/NAME), one server-sent event stream, and the header with
// the emperor's own figures. Views live in overview.js and vassal.js; each returns {onEvent, close}.
import {getJson, logout} from './api.js';
import {bytes} from './format.js';
import {showOverview} from './overview.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
let view;
let stream;
/** Events that arrive while a view loads, replayed once it is shown. */
let pending = [];

function showEmperor(figures) {
  if (!figures) return;
  document.getElementById('emperor').textContent =
    `emperor RSS ${bytes(figures.rss)} · CPU ${figures.cpu.toFixed(1)}% · loop lag ${figures.loopLagMs.toFixed(1)} ms`;
}

/** Opens the event stream, following the log of `follow` when given. */
function connect(follow) {
  stream?.close();
  stream = new EventSource(follow ? `/api/events?follow=${encodeURIComponent(follow)}` : '/api/events');
  stream.onopen = () => live.classList.add('on');
  stream.onerror = () => live.classList.remove('on');
  for (const name of ['state', 'sample', 'status', 'logs', 'log']) {
    stream.addEventListener(name, (event) => {
      const data = JSON.parse(event.data);
      if (name === 'sample' || name === 'status') showEmperor(data.emperor);
      if (view) view.onEvent(name, data);
      else pending.push([name, data]);
    });
  }
}

let routes = 0;
/** The overview's rows, asked for as the page loads rather than after its modules. */
let firstRows = location.hash.startsWith('#/vassal/') ? undefined : getJson('/api/vassals');

async function route() {
  const current = ++routes;
  view?.close();
  view = undefined;
  pending = [];
  // Each route draws into its own container, so a slow view that lost the race draws into a detached one.
  const container = document.createElement('div');
  main.replaceChildren(container);
  document.body.dataset.ready = '';
  const match = /^#\/vassal\/(.+)$/.exec(location.hash);
  if (match) {
    const name = decodeURIComponent(match[1]);
    connect(name);
    const {showVassal} = await import('./vassal.js');
    const shown = await showVassal(container, name);
    if (current !== routes) return shown.close();
    view = shown;
  } else {
    connect();
    const rows = firstRows ?? getJson('/api/vassals');
    firstRows = undefined;
    const shown = await showOverview(container, rows);
    if (current !== routes) return shown.close();
    view = shown;
  }
  for (const [name, data] of pending.splice(0)) view.onEvent(name, data);
}

document.getElementById('logout').addEventListener('click', () => void logout());
window.addEventListener('hashchange', () => void route());
void route();
