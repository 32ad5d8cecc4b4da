import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { StoreApi } from 'zustand/vanilla';
import type { BerthStore } from './store';

const StoreContext = createContext<StoreApi<BerthStore> | null>(null);

export function StoreProvider({ store, children }: { store: StoreApi<BerthStore>; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

/** A slice of the one store; the selector must return a stable value (a field, not a new object). */
export function useBerth<T>(selector: (state: BerthStore) => T): T {
  const store = useContext(StoreContext);
  if (store === null) throw new Error('useBerth needs a StoreProvider');
  return useStore(store, selector);
}

export const useActions = () => useBerth((s) => s.actions);
