// Route names of the hash router. Alerts elsewhere link to
// <dashboard>/#/anomalies/<id>: keep that route.

export const LIST_HASH_KEY = "vigil.listHash";

export type Page = "anomalies" | "detail" | "trends" | "rules" | "cluster" | "alerts" | "users" | "notfound";

export function pageOf(path: string[]): Page {
  const [a, b] = path;
  if (!a || a === "anomalies") return b ? "detail" : "anomalies";
  if (a === "trends") return "trends";
  if (a === "rules" || a === "models") return "rules";
  if (a === "cluster") return "cluster";
  if (a === "alerts") return "alerts";
  if (a === "users" || a === "apikeys") return "users";
  return "notfound";
}
