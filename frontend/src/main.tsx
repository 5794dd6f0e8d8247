import "@fontsource-variable/inter/wght.css";
import { render } from "preact";
import { ApiClient } from "./api";
import { App } from "./app";
import { loadSession } from "./auth";
import { DEFAULT_PAGE_SIZE, prefetchAnomalies } from "./prefetch";
import { anomaliesQuery, filtersFromParams, parseHash } from "./query";
import { pageOf } from "./routes";
import "./styles.css";

performance.mark("vigil:boot");

// Starting on the list with a session: ask for the first page right away.
const session = loadSession(sessionStorage);
const route = parseHash(location.hash);
if (session && pageOf(route.path) === "anomalies") {
  const f = filtersFromParams(route.params);
  if (!f.range || f.range === "custom") // preset ranges depend on the time of the request
    prefetchAnomalies(new ApiClient({ getToken: () => session.token }), anomaliesQuery(f, { limit: DEFAULT_PAGE_SIZE }));
}

render(<App />, document.getElementById("app")!);
