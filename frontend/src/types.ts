// Shapes of the gateway's JSON (gateway/openapi.json). Fields the server
// may leave out are optional; the dashboard never assumes more than this.

export type Role = "admin" | "analyst" | "ingest";
export type Severity = "low" | "medium" | "high" | "critical";
export type Decision = "allow" | "review" | "block";
export type LabelValue = "fraud" | "legit" | "unsure";

export const SEVERITIES: readonly Severity[] = ["low", "medium", "high", "critical"];
export const DECISIONS: readonly Decision[] = ["allow", "review", "block"];

export interface Reason {
  detector: string;
  feature?: string;
  value?: number;
  baseline?: number;
  threshold?: number;
  contribution?: number;
}

export interface AnomalyLabel {
  label: LabelValue | string;
  note?: string;
  by?: string;
  at?: string | number;
}

export interface Transaction {
  id: string;
  user_id: string;
  amount: number;
  currency: string;
  timestamp: string | number;
  merchant_id?: string | null;
  merchant_category?: string | null;
  country?: string | null;
  channel?: string | null;
  device_id?: string | null;
  ip?: string | null;
  lat?: number | null;
  lon?: number | null;
  attributes?: Record<string, string | number> | null;
}

export interface Anomaly {
  id: string;
  user_id: string;
  timestamp: string;
  detected_at?: string;
  score: number;
  severity: Severity | string;
  decision: Decision | string;
  amount?: number;
  currency?: string;
  reasons: Reason[];
  label?: AnomalyLabel | null;
}

export interface AnomalyDetail extends Anomaly {
  transaction?: Transaction;
  features?: Record<string, number | null>;
}

export interface AnomalyPage {
  anomalies: Anomaly[];
  next_cursor: string | null;
}

export interface StatsBucket {
  start: string;
  total: number;
  by_severity: Record<Severity, number>;
  by_decision: Record<Decision, number>;
}

export interface StatsResponse {
  bucket: string;
  from: string;
  to: string;
  buckets: StatsBucket[];
}

export interface PrecisionRow {
  labelled: number;
  fraud: number;
  legit: number;
  unsure: number;
  precision: number | null;
}
export interface PrecisionByRule extends PrecisionRow {
  rule: string;
  versions?: number[];
}
export interface PrecisionByDetector extends PrecisionRow {
  detector: string;
}
export interface PrecisionByModel extends PrecisionRow {
  model?: string | number;
  version?: number;
}
export interface PrecisionResponse {
  overall: PrecisionRow;
  by_rule: PrecisionByRule[];
  by_detector: PrecisionByDetector[];
  by_model: PrecisionByModel[];
  definition?: string;
}

export interface Member {
  id: number;
  state: string;
  voter?: boolean;
  data_addr?: string;
  raft_addr?: string;
  shards?: number;
  alive?: boolean;
  kafka?: KafkaStatus;
}

export interface KafkaPartition {
  topic: string;
  partition: number;
  lag: number;
  paused?: boolean;
}
export interface KafkaStatus {
  group?: string;
  topics?: string[];
  paused?: boolean;
  consumed?: number;
  scored?: number;
  dead_letters?: number;
  lag?: number;
  partitions?: KafkaPartition[];
}

export interface ClusterStatus {
  node?: number;
  leader?: number;
  leader_addr?: string;
  term?: number;
  map_epoch?: number;
  shards?: number;
  members: Member[];
  warnings?: string[];
  gateway?: {
    uptime_s?: number;
    transactions_accepted?: number;
    transactions_rejected?: number;
    tx_per_s?: number;
    ingest_p99_ms?: number;
  };
  kafka?: KafkaStatus;
}

export interface RuleStat {
  id: string;
  name?: string;
  mode?: string;
  action?: string;
  severity?: string;
  hits?: number;
  errors?: number;
}
export interface RulesResponse {
  nodes?: number;
  versions?: number[];
  rules: RuleStat[];
}

export interface BlobVersion {
  version: number;
  size?: number;
  hash?: string;
}
export interface RuleVersionsResponse {
  names: { name: string; active: number; versions: BlobVersion[] }[];
}
export interface ModelsResponse {
  nodes?: number;
  active_versions?: number[];
  shadow_versions?: number[];
  scored?: number;
  flagged?: number;
  shadow_scored?: number;
  shadow_flagged?: number;
  both_flagged?: number;
}
export interface ModelVersionsResponse {
  active: number;
  shadow: number;
  versions: BlobVersion[];
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
}

/* ---- alerting (GET /v1/alerts, /v1/alerts/channels) ---------------------------- */

export type AlertStatus = "pending" | "throttled" | "delivered" | "dead";
export const ALERT_STATUSES: readonly AlertStatus[] = ["pending", "throttled", "delivered", "dead"];

export interface Alert {
  id: string;
  channel: string;
  type?: string;
  status: AlertStatus | string;
  created?: string | null;
  updated?: string | null;
  count?: number;
  count_sent?: number;
  repeats_before?: number;
  attempts?: number;
  next_attempt?: string | null;
  delivered?: string | null;
  digest?: string | null;
  last_error?: string | null;
  user_id?: string;
  reason?: string;
  anomaly_id?: string;
  last_anomaly_id?: string;
  severity?: Severity | string;
  decision?: Decision | string;
  score?: number;
  amount?: number;
  currency?: string;
  url?: string;
}

export interface AlertPage {
  alerts: Alert[];
  next_cursor: string | null;
  nodes?: number;
}

export interface AlertChannel {
  name: string;
  type?: string;
  healthy?: boolean;
  last_error?: string | null;
  pending?: number;
  throttled?: number;
  sent?: number;
  delivered?: number;
  failures?: number;
  dead?: number;
  dedup?: number;
  digests?: number;
}

export interface AlertChannelsResponse {
  nodes: { node: number; channels: AlertChannel[] }[];
}

/* ---- users and API keys (admin: /v1/users, /v1/apikeys) ------------------------ */

export const ROLES: readonly Role[] = ["admin", "analyst", "ingest"];

export interface User {
  name: string;
  role: Role | string;
  disabled?: boolean;
  created?: string | null;
}

export interface UsersResponse {
  users: User[];
}

export interface ApiKey {
  id: string;
  name?: string;
  role: Role | string;
  revoked?: boolean;
  created?: string | null;
}

export interface ApiKeysResponse {
  api_keys: ApiKey[];
}

/** POST /v1/apikeys: the only answer that carries the secret */
export interface ApiKeyCreated {
  id: string;
  key: string;
  role: Role | string;
  note?: string;
}
