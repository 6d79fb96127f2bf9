/** Helpers for exhaustive switches over state unions: a missed case fails the build, a bad one fails loudly. */

/**
 * For the `default:` branch of a switch over a union: the compiler proves it is never reached. `what` names the
 * union in the message (`unknown client phase "x"`).
 */
export function unknownState(state: never, what = 'state'): Error {
  return new Error(`Internal error: unknown ${what} ${JSON.stringify(state)}`);
}

/** For a state the event cannot happen in (a kaiser bug, not an operator error). */
export function unexpectedState(state: {id: string}, event: string): Error {
  return new Error(`Internal error: event ${event} in state ${state.id}`);
}
