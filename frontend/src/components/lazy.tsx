// A page component loaded on demand (a separate chunk), with the loading
// and error states of the app while it arrives.

import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ErrorState, Loading } from "./ui";

export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<ComponentType<P>> | null = null;
  const get = () => (pending ??= load().then((c) => (loaded = c)));
  return function Lazy(props: P) {
    const [C, setC] = useState<ComponentType<P> | null>(() => loaded);
    const [err, setErr] = useState<unknown>(null);
    useEffect(() => {
      if (!C)
        get().then(
          (c) => setC(() => c),
          (e) => {
            pending = null;
            setErr(e);
          },
        );
    }, []);
    if (err)
      return (
        <div class="page">
          <ErrorState error={err} onRetry={() => location.reload()} />
        </div>
      );
    if (!C)
      return (
        <div class="page">
          <Loading />
        </div>
      );
    return <C {...props} />;
  };
}
