// One vassal: its facts, actions, live CPU and RSS charts over 15 minutes (uPlot, loaded only here), its restart and
// exit history, its config file and a live log tail. Every value goes in through textContent.
import {act, getJson} from './api.js';
import {bytes, clock, duration, el, percent, stateBadge} from './format.js';

const WINDOW_S = 15 * 60;
const MAX_LOG_LINES = 500;

export async function showVassal(main, name) {
  const [detail, {default: uPlot}] = await Promise.all([getJson(`/api/vassals/${encodeURIComponent(name)}`), import('./vendor/uplot.js')]);
  if (!document.querySelector('link[href="/assets/vendor/uplot.css"]')) {
    const css = el('link');
    css.rel = 'stylesheet';
    css.href = '/assets/vendor/uplot.css';
    document.head.append(css);
  }
  const back = el('a', '', '← all vassals');
  back.href = '#/';
  const title = el('h1', '', detail.name);
  const message = el('span', 'message');
  const bar = el('div', 'bar');
  bar.append(back);
  for (const action of ['reload', 'stop', 'start']) {
    const button = el('button', `act-${action}`, action[0].toUpperCase() + action.slice(1));
    button.type = 'button';
    button.dataset.action = action;
    button.addEventListener('click', async () => {
      message.textContent = `${action}…`;
      const outcome = await act(detail.name, action);
      message.textContent = outcome.ok ? '' : outcome.error;
    });
    bar.append(button);
  }
  bar.append(message);

  const facts = el('dl', 'facts');
  const factCard = card('Vassal', facts);
  const cpuChart = el('div', 'chart cpu-chart');
  const rssChart = el('div', 'chart rss-chart');
  const historyBody = el('tbody');
  const historyTable = el('table', 'history');
  const historyHead = el('tr');
  for (const label of ['Time', 'From', 'To', 'Event', 'Error']) historyHead.append(el('th', '', label));
  historyTable.append(el('thead'), historyBody);
  historyTable.tHead.append(historyHead);
  const config = el('pre', 'config', detail.config ?? '(file not readable)');
  const logs = el('pre', 'logs');
  const grid = el('div', 'grid');
  grid.append(factCard, card('Restarts and exits', historyTable), card('CPU % (15 min)', cpuChart), card('RSS (15 min)', rssChart), card('Config file', config), card('Log', logs));
  main.append(title, bar, grid);

  let row = detail;
  function showFacts() {
    const items = [
      ['State', stateBadge(row.state)],
      ['Kind', row.kind],
      ['PID', row.pid > 0 ? row.pid : '–'],
      ['CPU', `${percent(row.cpu)} %`],
      ['RSS', bytes(row.rss)],
      ['Uptime', duration(row.uptime)],
      ['Restarts', row.restarts],
      ['Sockets', row.sockets.join(' ') || '–'],
      ['Last error', row.lastError ?? '–'],
      ['Config warnings', (row.warnings ?? []).join('\n') || '–'],
    ];
    facts.replaceChildren();
    for (const [label, value] of items) {
      const dd = el('dd');
      if (value instanceof Node) dd.append(value);
      else dd.textContent = String(value);
      facts.append(el('dt', '', label), dd);
    }
  }
  showFacts();

  function addTransition(t) {
    const tr = el('tr');
    tr.append(el('td', '', clock(t.at)), el('td', '', t.from), el('td', '', t.to), el('td', '', t.event), el('td', 'error', t.error ?? ''));
    historyBody.prepend(tr);
    while (historyBody.children.length > 50) historyBody.lastChild.remove();
  }
  for (const t of detail.history.transitions) addTransition(t);

  const samples = detail.history.samples;
  const data = {at: samples.at.map((ms) => ms / 1000), cpu: [...samples.cpu], rss: samples.rss.map((b) => b / 1048576)};
  const size = (node) => ({width: Math.max(300, node.clientWidth || 400), height: 200});
  const options = (label, stroke, fill) => ({
    ...size(cpuChart),
    legend: {show: false},
    scales: {x: {time: true}, y: {range: (u, min, max) => [0, Math.max(1, max * 1.1)]}},
    series: [{}, {label, stroke, fill, width: 2}],
    axes: [{}, {size: 56}],
  });
  const charts = [
    new uPlot(options('cpu', '#2f5fd0', 'rgba(47,95,208,.12)'), [data.at, data.cpu], cpuChart),
    new uPlot(options('rss', '#1a7f37', 'rgba(26,127,55,.12)'), [data.at, data.rss], rssChart),
  ];
  const redraw = () => {
    charts[0].setData([data.at, data.cpu]);
    charts[1].setData([data.at, data.rss]);
  };
  const onResize = () => {
    for (const [chart, node] of [[charts[0], cpuChart], [charts[1], rssChart]]) chart.setSize(size(node));
  };
  window.addEventListener('resize', onResize);
  document.body.dataset.ready = 'vassal';

  function appendLog(lines) {
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    const text = logs.textContent + lines.map((l) => `${l}\n`).join('');
    const kept = text.split('\n');
    logs.textContent = kept.length > MAX_LOG_LINES ? kept.slice(-MAX_LOG_LINES).join('\n') : text;
    if (atBottom) logs.scrollTop = logs.scrollHeight;
  }
  let tailShown = false;
  if (detail.logs.length) appendLog(detail.logs);

  return {
    onEvent(kind, event) {
      if (kind === 'sample') {
        const mine = event.vassals.find((v) => v[0] === detail.name);
        if (!mine) return;
        const at = event.at / 1000;
        data.at.push(at);
        data.cpu.push(mine[1]);
        data.rss.push(mine[2] / 1048576);
        while (data.at.length && data.at[0] < at - WINDOW_S) {
          data.at.shift();
          data.cpu.shift();
          data.rss.shift();
        }
        row = {...row, cpu: mine[1], rss: mine[2]};
        showFacts();
        redraw();
      } else if (kind === 'state' && event.vassal === detail.name) {
        if (event.row) row = event.row;
        showFacts();
        addTransition(event);
      } else if (kind === 'logs' && event.vassal === detail.name && !tailShown) {
        // The stream's tail replaces the one fetched with the page: it joins the live lines without a gap.
        tailShown = true;
        logs.textContent = '';
        appendLog(event.lines);
      } else if (kind === 'log' && event.vassal === detail.name) {
        appendLog([event.line]);
      }
    },
    close() {
      window.removeEventListener('resize', onResize);
      for (const chart of charts) chart.destroy();
    },
  };
}

function card(heading, content) {
  const section = el('section', 'card');
  section.append(el('h2', '', heading), content);
  return section;
}
