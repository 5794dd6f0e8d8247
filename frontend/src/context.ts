import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ApiClient } from "./api";
import type { Session } from "./auth";

export interface Toast {
  id: number;
  kind: "ok" | "error" | "info";
  text: string;
}

export interface AppCtx {
  api: ApiClient;
  session: Session;
  isAdmin: boolean;
  logout: () => void;
  toast: (kind: Toast["kind"], text: string) => void;
}

export const AppContext = createContext<AppCtx | null>(null);

export function useApp(): AppCtx {
  const c = useContext(AppContext);
  if (!c) throw new Error("AppContext missing");
  return c;
}
