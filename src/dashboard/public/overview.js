// The overview: every vassal in one table (sortable, filterable, with a selection for bulk actions), counts by
// state, updated live from `state` and `sample` events. Rows are built into a DocumentFragment and updated cell by
// cell afterwards, so 1000 vassals render in one layout pass. Every value goes in through textContent.
import {actOnAll, getJson} from './api.js';
import {bytes, duration, el, percent, stateBadge, vassalHref} from './format.js';

const COLUMNS = [
  {key: 'name', label: 'Name'},
  {key: 'kind', label: 'Kind'},
  {key: 'state', label: 'State'},
  {key: 'pid', label: 'PID', num: true},
  {key: 'cpu', label: 'CPU %', num: true},
  {key: 'rss', label: 'RSS', num: true},
  {key: 'uptime', label: 'Uptime', num: true},
  {key: 'restarts', label: 'Restarts', num: true},
  {key: 'sockets', label: 'Sockets'},
  {key: 'lastError', label: 'Last error'},
  {key: 'warnings', label: 'Warnings'},
];

/** Shows the overview in `main`; `rows` is the promise of /api/vassals (started early by app.js). */
export async function showOverview(main, rows) {
  rows = await rows;
  const started = performance.now();
  const entries = new Map(); // name → {row, tr, cells, spawnedAt}
  const selected = new Set();
  let sort = {key: 'name', dir: 1};
  let filter = '';

  const counts = el('div', 'counts');
  const search = el('input');
  search.type = 'search';
  search.placeholder = 'filter: name, state, kind, error…';
  search.setAttribute('aria-label', 'filter vassals');
  const message = el('span', 'message');
  const buttons = ['reload', 'stop', 'start'].map((action) => {
    const button = el('button', `act-${action}`, `${action[0].toUpperCase()}${action.slice(1)} selected`);
    button.type = 'button';
    button.dataset.action = action;
    button.disabled = true;
    button.addEventListener('click', async () => {
      const names = [...selected];
      message.textContent = `${action}: ${names.length} vassal(s)…`;
      const failures = await actOnAll(names, action);
      message.textContent = failures.length ? failures.slice(0, 3).join('; ') + (failures.length > 3 ? ` (+${failures.length - 3})` : '') : '';
    });
    return button;
  });
  const bar = el('div', 'bar');
  bar.append(search, counts, el('span', 'spacer'), message, ...buttons);

  const table = el('table', 'vassals');
  const head = el('thead');
  const headRow = el('tr');
  const all = el('input');
  all.type = 'checkbox';
  all.setAttribute('aria-label', 'select all shown');
  const allCell = el('th');
  allCell.append(all);
  headRow.append(allCell);
  for (const column of COLUMNS) {
    const th = el('th', column.num ? 'num' : '', column.label);
    th.dataset.key = column.key;
    th.addEventListener('click', () => {
      sort = {key: column.key, dir: sort.key === column.key ? -sort.dir : 1};
      renderBody();
    });
    headRow.append(th);
  }
  head.append(headRow);
  const body = el('tbody');
  table.append(head, body);
  main.append(bar, table);

  function setRow(entry, row) {
    entry.row = row;
    entry.spawnedAt = row.pid > 0 ? Date.now() - row.uptime * 1000 : 0;
    const c = entry.cells;
    c.name.firstChild.textContent = row.name;
    c.kind.textContent = row.kind;
    c.state.replaceChildren(stateBadge(row.state));
    c.pid.textContent = row.pid > 0 ? row.pid : '–';
    c.cpu.textContent = percent(row.cpu);
    c.rss.textContent = bytes(row.rss);
    c.uptime.textContent = duration(row.uptime);
    c.restarts.textContent = row.restarts;
    c.sockets.textContent = row.sockets.join(' ');
    c.sockets.title = row.sockets.join('\n');
    c.lastError.textContent = row.lastError ?? '';
    c.lastError.title = row.lastError ?? '';
    // Config warnings (unknown keys uWSGI ignores, options not applied yet): the first, the rest on hover.
    const warnings = row.warnings ?? [];
    c.warnings.textContent = warnings.length === 0 ? '' : `${warnings.length} · ${shortWarning(warnings[0])}`;
    c.warnings.title = warnings.join('\n');
    entry.tr.dataset.state = row.state;
  }

  function addEntry(row) {
    const tr = el('tr');
    tr.dataset.name = row.name;
    const box = el('input');
    box.type = 'checkbox';
    box.setAttribute('aria-label', 'select');
    box.checked = selected.has(row.name);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(row.name);
      else selected.delete(row.name);
      syncButtons();
    });
    const boxCell = el('td');
    boxCell.append(box);
    tr.append(boxCell);
    const cells = {};
    for (const column of COLUMNS) {
      const td = el('td', column.num ? 'num' : column.key === 'lastError' ? 'error' : column.key === 'warnings' ? 'warning' : column.key === 'sockets' ? 'sockets' : '');
      if (column.key === 'name') {
        const a = el('a');
        a.href = vassalHref(row.name);
        a.append(document.createTextNode(''));
        td.append(a);
      }
      cells[column.key] = td;
      tr.append(td);
    }
    const entry = {row, tr, cells, box, spawnedAt: 0};
    setRow(entry, row);
    entries.set(row.name, entry);
    return entry;
  }

  function matches(row) {
    if (!filter) return true;
    return `${row.name} ${row.state} ${row.kind} ${row.lastError ?? ''} ${row.sockets.join(' ')} ${(row.warnings ?? []).join(' ')}`.toLowerCase().includes(filter);
  }

  function renderBody() {
    const shown = [...entries.values()].filter((e) => matches(e.row));
    const {key, dir} = sort;
    shown.sort((a, b) => {
      const x = key === 'sockets' ? a.row.sockets.join(' ') : a.row[key] ?? '';
      const y = key === 'sockets' ? b.row.sockets.join(' ') : b.row[key] ?? '';
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * dir || a.row.name.localeCompare(b.row.name);
    });
    const fragment = document.createDocumentFragment();
    for (const entry of shown) fragment.append(entry.tr);
    body.replaceChildren(fragment);
    for (const th of headRow.querySelectorAll('th[data-key]')) {
      if (th.dataset.key === key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    renderCounts();
  }

  function renderCounts() {
    const byState = new Map();
    for (const {row} of entries.values()) byState.set(row.state, (byState.get(row.state) ?? 0) + 1);
    const chips = [el('span', 'count', `${entries.size} vassals`)];
    for (const [state, n] of [...byState].sort()) {
      const chip = el('span', 'count');
      chip.append(stateBadge(state), document.createTextNode(` ${n}`));
      chip.dataset.state = state;
      chips.push(chip);
    }
    counts.replaceChildren(...chips);
  }

  function syncButtons() {
    for (const button of buttons) button.disabled = selected.size === 0;
    all.checked = selected.size > 0 && [...body.children].every((tr) => selected.has(tr.dataset.name));
  }

  search.addEventListener('input', () => {
    filter = search.value.trim().toLowerCase();
    renderBody();
  });
  all.addEventListener('change', () => {
    for (const tr of body.children) {
      const entry = entries.get(tr.dataset.name);
      entry.box.checked = all.checked;
      if (all.checked) selected.add(entry.row.name);
      else selected.delete(entry.row.name);
    }
    syncButtons();
  });

  for (const row of rows) addEntry(row);
  renderBody();
  const renderMs = performance.now() - started;
  table.dataset.renderMs = renderMs.toFixed(1);
  // Since navigation start: fetch and render together, what the operator waits for.
  table.dataset.shownAtMs = performance.now().toFixed(1);
  document.body.dataset.ready = 'overview';

  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const fresh = await getJson('/api/vassals');
      const names = new Set(fresh.map((r) => r.name));
      for (const name of [...entries.keys()]) if (!names.has(name)) entries.delete(name);
      for (const row of fresh) {
        const entry = entries.get(row.name);
        if (entry) setRow(entry, row);
        else addEntry(row);
      }
      renderBody();
    } finally {
      refreshing = false;
    }
  }

  return {
    onEvent(name, data) {
      if (name === 'state') {
        const entry = entries.get(data.vassal);
        if (!entry || !data.row) return void refresh();
        setRow(entry, data.row);
        renderCounts();
      } else if (name === 'sample') {
        let unknown = data.vassals.length !== entries.size;
        const now = Date.now();
        for (const [vassal, cpu, rss] of data.vassals) {
          const entry = entries.get(vassal);
          if (!entry) {
            unknown = true;
            continue;
          }
          entry.row.cpu = cpu;
          entry.row.rss = rss;
          entry.cells.cpu.textContent = percent(cpu);
          entry.cells.rss.textContent = bytes(rss);
          if (entry.spawnedAt > 0) {
            entry.row.uptime = Math.floor((now - entry.spawnedAt) / 1000);
            entry.cells.uptime.textContent = duration(entry.row.uptime);
          }
        }
        if (unknown) void refresh();
      }
    },
    close() {},
  };
}

/** `vassals/a.ini:3 [uwsgi] project: warning KAISER_CONFIG_UNKNOWN_KEY unknown option …` → `project: unknown option …`. */
function shortWarning(line) {
  const match = /^\S+(?: \[[^\]]*\])? (.*?): warning KAISER_\w+ (.*)$/.exec(line);
  return match === null ? line : `${match[1]}: ${match[2]}`;
}
