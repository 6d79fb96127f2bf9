/**
 * Exit codes of every kaiser program. kaiser's own: 0 clean stop, 1 runtime failure, 2 usage or config error
 * (nothing started). uWSGI's, kept because emperors rely on them: 22 app failed to load, 26 exiled (do not respawn).
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  APP_LOAD_FAILED: 22,
  EXILED: 26,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One line per code, for `--help`. */
export const EXIT_CODE_HELP: readonly (readonly [number, string])[] = [
  [EXIT.OK, 'clean stop'],
  [EXIT.FAILURE, 'runtime failure'],
  [EXIT.USAGE, 'usage or configuration error (nothing was started)'],
  [EXIT.APP_LOAD_FAILED, 'the app failed to load (uWSGI need-app)'],
  [EXIT.EXILED, 'exiled: the emperor must not respawn this vassal (uWSGI)'],
];
