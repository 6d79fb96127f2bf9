/**
 * Where each vassal replica should run: rendezvous (highest random weight) hashing over the live emperors, bounded
 * by a per-emperor cap. Pure: every emperor computes the same answer from the same view of the store, so they agree
 * without talking to each other, and the store's transactions settle the moments when views differ.
 *
 *   1. eligible(v)  = live, undrained emperors matching v's `hosts` and carrying all of v's `tags`
 *   2. cap(h)       = min(h's own cap, ceil(replicas / emperors) + 1): the "bounded load" of consistent hashing
 *   3. sticky pass  — a replica stays where it already runs while that emperor is eligible and under its cap, so a
 *                     new or returning emperor moves only what the cap forces, and a dead one moves only its own
 *   4. hashing pass — the remaining replicas go to the highest-scoring eligible emperors with room, never two
 *                     replicas of one vassal on one emperor
 *   5. overflow     — when constraints leave no emperor under the balance cap, the least loaded eligible emperor
 *                     takes it (its own hard cap still holds); a vassal with no eligible emperor stays unplaced
 *
 * Vassals with fewer eligible emperors are placed first, so tag-constrained vassals are not crowded out.
 */
import {createHash} from 'node:crypto';

/** What placement needs to know about a vassal. */
export interface PlacementVassal {
  readonly replicas: number;
  readonly hosts: readonly string[];
  readonly tags: readonly string[];
}

/** What placement needs to know about an emperor. */
export interface PlacementHost {
  readonly tags: readonly string[];
  /** Hard cap (0 = none). */
  readonly cap: number;
}

export interface PlacementInput {
  readonly vassals: ReadonlyMap<string, PlacementVassal>;
  /** Live emperors that take vassals (drained ones left out). */
  readonly hosts: ReadonlyMap<string, PlacementHost>;
  /** Emperors currently holding a replica of each vassal. */
  readonly holders: ReadonlyMap<string, readonly string[]>;
}

/** The rendezvous score of `host` for `vassal`: a stable pseudo-random number. */
export function rendezvousScore(vassal: string, host: string): number {
  return createHash('sha1').update(vassal).update('\0').update(host).digest().readUIntBE(0, 6);
}

/** Whether `host` may run `vassal` by its constraints. */
export function isEligible(vassal: PlacementVassal, hostId: string, host: PlacementHost): boolean {
  if (vassal.hosts.length > 0 && !vassal.hosts.includes(hostId)) return false;
  return vassal.tags.every((tag) => host.tags.includes(tag));
}

/** vassal name → emperors (host ids) that should run its replicas, best first. */
export function placeReplicas(input: PlacementInput): Map<string, string[]> {
  const hostIds = [...input.hosts.keys()].sort();
  const plan = new Map<string, string[]>();
  if (hostIds.length === 0) {
    for (const name of input.vassals.keys()) plan.set(name, []);
    return plan;
  }
  const ranked = new Map<string, string[]>();
  let total = 0;
  for (const [name, vassal] of input.vassals) {
    const eligible = hostIds.filter((id) => isEligible(vassal, id, input.hosts.get(id)!));
    eligible.sort((a, b) => rendezvousScore(name, b) - rendezvousScore(name, a) || (a < b ? -1 : 1));
    ranked.set(name, eligible);
    plan.set(name, []);
    total += Math.min(vassal.replicas, eligible.length);
  }
  const balanceCap = Math.ceil(total / hostIds.length) + 1;
  const capOf = (id: string): number => {
    const hard = input.hosts.get(id)!.cap;
    return hard > 0 ? Math.min(hard, balanceCap) : balanceCap;
  };
  const load = new Map<string, number>(hostIds.map((id) => [id, 0]));
  const order = [...input.vassals.keys()].sort((a, b) => ranked.get(a)!.length - ranked.get(b)!.length || (a < b ? -1 : 1));
  const assign = (name: string, id: string) => {
    plan.get(name)!.push(id);
    load.set(id, load.get(id)! + 1);
  };
  const wants = (name: string) => plan.get(name)!.length < input.vassals.get(name)!.replicas;

  for (const name of order) {
    const holders = new Set(input.holders.get(name) ?? []);
    for (const id of ranked.get(name)!) {
      if (wants(name) && holders.has(id) && load.get(id)! < capOf(id)) assign(name, id);
    }
  }
  for (const name of order) {
    for (const id of ranked.get(name)!) {
      if (wants(name) && !plan.get(name)!.includes(id) && load.get(id)! < capOf(id)) assign(name, id);
    }
  }
  for (const name of order) {
    if (!wants(name)) continue;
    const spare = ranked
      .get(name)!
      .filter((id) => !plan.get(name)!.includes(id))
      .filter((id) => {
        const hard = input.hosts.get(id)!.cap;
        return hard === 0 || load.get(id)! < hard;
      })
      .sort((a, b) => load.get(a)! - load.get(b)!);
    for (const id of spare) if (wants(name)) assign(name, id);
  }
  return plan;
}
