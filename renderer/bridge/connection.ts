import type { Connection } from './types';

/** One current connection value and its listeners; each new listener hears the current value at once. */
export interface ConnectionHub {
  get(): Connection;
  set(next: Connection): void;
  listen(listener: (connection: Connection) => void): () => void;
}

export function createConnectionHub(initial: Connection): ConnectionHub {
  let current = initial;
  const listeners = new Set<(connection: Connection) => void>();
  return {
    get: () => current,
    set(next) {
      if (next.status === current.status && next.detail === current.detail) return;
      current = next;
      for (const listener of [...listeners]) listener(current);
    },
    listen(listener) {
      listeners.add(listener);
      listener(current);
      return () => void listeners.delete(listener);
    },
  };
}
