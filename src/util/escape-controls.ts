/**
 * Control characters made visible: what a vassal prints or names must never move the cursor, colour, or start a new
 * line of the emperor's log (a forged `[emperor] …` line). Tabs stay; every other C0 control and DEL becomes `\xHH`,
 * as nginx writes them in its logs.
 */

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

/** `text` with control characters (except tab) as `\xHH`. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** True when `text` has a character `escapeControls` would change (checking first is cheaper than replacing). */
export function hasControls(text: string): boolean {
  CONTROLS.lastIndex = 0;
  const found = CONTROLS.test(text);
  CONTROLS.lastIndex = 0;
  return found;
}
