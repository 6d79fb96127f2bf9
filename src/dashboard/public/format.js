// Formatting and DOM helpers. Untrusted text only ever goes through textContent.

/** An element with a class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function bytes(n) {
  if (!(n > 0)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function duration(seconds) {
  if (!(seconds > 0)) return '–';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function percent(n) {
  return Number.isFinite(n) ? n.toFixed(1) : '–';
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString();
}

/** A state badge. */
export function stateBadge(state) {
  return el('span', `state state-${String(state).replace(/[^a-z-]/g, '')}`, state);
}

/** The hash route of a vassal page. */
export function vassalHref(name) {
  return `#/vassal/${encodeURIComponent(name)}`;
}
