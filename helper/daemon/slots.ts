/**
 * Connection slots per peer uid. The helper's socket is world-connectable
 * (the peer-credential check is the wall), so any local user can open
 * connections, and even a refused one lives up to two seconds while its
 * UNAUTHORIZED frame is read. Without a per-uid bound one user could hold
 * every connection the helper (or Node's backstop) allows, and the enrolled
 * users would be turned away. Root is not counted: it is not a competing
 * user, and it can stop the helper anyway.
 */
export class ConnectionSlots {
  private readonly held = new Map<number, number>();

  constructor(private readonly perUid: number) {}

  /** Takes a slot for a new connection from `uid`; false when that uid already holds all of its own. */
  take(uid: number): boolean {
    if (uid === 0) return true;
    const now = this.held.get(uid) ?? 0;
    if (now >= this.perUid) return false;
    this.held.set(uid, now + 1);
    return true;
  }

  /** Gives back the slot a closed connection held (exactly once per successful take). */
  release(uid: number): void {
    if (uid === 0) return;
    const now = this.held.get(uid) ?? 0;
    // The map only holds uids with open connections: its size stays bounded by them.
    if (now <= 1) this.held.delete(uid);
    else this.held.set(uid, now - 1);
  }

  /** Open connections of `uid` (0 for root, which is not counted). */
  count(uid: number): number {
    return this.held.get(uid) ?? 0;
  }

  /** Distinct uids holding a connection. */
  get uids(): number {
    return this.held.size;
  }
}
