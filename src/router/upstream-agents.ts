/**
 * One keep-alive `http.Agent` per upstream, so connections to a vassal are reused across requests from any client
 * and bounded in number (a slow vassal queues requests in the router instead of being flooded with connects).
 *
 * Agents of upstreams that left the table are retired: no new requests, requests in flight finish on their sockets,
 * idle sockets close. Idle sockets close after `idleMs` anyway, below the few seconds app servers keep an idle
 * connection, so the router rarely picks a socket the vassal is just closing.
 */
import {Agent} from 'node:http';
import {upstreamKey, type Upstream} from './route-table.js';

export interface UpstreamAgentOptions {
  /** Connections per upstream (in use + idle). */
  maxSockets: number;
  /** Idle connections kept per upstream. */
  maxFreeSockets: number;
  /** Idle keep-alive connections close after this long. */
  idleMs: number;
}

// Few connections serve a small app server best: on this 2-core box a Node proxy made 9k req/s over 8 upstream
// connections and 3.4k over 64 (bench/router.sh); more only help vassals that hold requests open (long polling).
export const AGENT_DEFAULTS: UpstreamAgentOptions = {maxSockets: 16, maxFreeSockets: 16, idleMs: 4_000};

/** The agents of every upstream the router has talked to. */
export class UpstreamAgents {
  readonly #agents = new Map<string, Agent>();
  readonly #options: UpstreamAgentOptions;

  constructor(options: Partial<UpstreamAgentOptions> = {}) {
    this.#options = {...AGENT_DEFAULTS, ...options};
  }

  /** The agent for `upstream`, created on first use. */
  agentFor(upstream: Upstream): Agent {
    const key = upstreamKey(upstream);
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent = new Agent({
        keepAlive: true,
        maxSockets: this.#options.maxSockets,
        maxFreeSockets: this.#options.maxFreeSockets,
        // An Agent applies `timeout` to its idle sockets (and destroys them on it); requests set their own.
        timeout: this.#options.idleMs,
        scheduling: 'lifo',
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** Retires the agents of upstreams not in `keep` (keys from `upstreamKey`). */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const [key, agent] of this.#agents) {
      if (keep.has(key)) continue;
      this.#agents.delete(key);
      retire(agent);
    }
  }

  /** How many agents exist (tests). */
  get size(): number {
    return this.#agents.size;
  }

  /** Closes every connection, in use or idle. */
  destroy(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

/** Closes idle sockets now and the others once their request is done; the agent is no longer handed out. */
function retire(agent: Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  agent.on('free', (socket) => socket.destroy());
}
