# Generates gateway/openapi.json (kept in the repo; this script is the source of truth
# for its structure: ops/openapi-gen.py).
import json, sys

def err_resp(desc):
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

def ok(desc, schema=None, ctype="application/json"):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {ctype: {"schema": schema}}
    return r

REF = lambda n: {"$ref": "#/components/schemas/" + n}
common_errs = {"401": err_resp("missing or invalid credentials"),
               "403": err_resp("the caller's role may not do this"),
               "429": {"$ref": "#/components/responses/RateLimited"}}

def op(summary, tag, responses, params=None, body=None, security=True, desc=None, xroles=None):
    o = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    if desc: o["description"] = desc
    if params: o["parameters"] = params
    if body: o["requestBody"] = body
    if security:
        o["responses"].update(common_errs)
    else:
        o["security"] = []
    if xroles: o["x-roles"] = xroles
    return o

def qp(name, desc, schema=None, required=False, example=None):
    p = {"name": name, "in": "query", "required": required, "description": desc,
         "schema": schema or {"type": "string"}}
    if example is not None: p["example"] = example
    return p

def pp(name, desc, example):
    return {"name": name, "in": "path", "required": True, "description": desc,
            "schema": {"type": "string"}, "example": example}

json_body = lambda schema, required=True: {"required": required, "content": {"application/json": {"schema": schema}}}

anomaly_filters = [
    qp("from", "event time lower bound, inclusive (RFC 3339 or epoch ms)", example="2026-01-01T00:00:00Z"),
    qp("to", "event time upper bound, exclusive"),
    qp("user_id", "only this user's anomalies"),
    qp("severity", "this severity or worse", {"type": "string", "enum": ["low", "medium", "high", "critical"]}),
    qp("detector", "a reason from this detector (zscore, mad, iqr, iforest, rule, ...)"),
    qp("rule", "a reason from this rule (its id)"),
    qp("decision", "only this decision", {"type": "string", "enum": ["allow", "review", "block"]}),
    qp("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}),
    qp("cursor", "next_cursor of the previous page (keyset paging)"),
]

paths = {
 "/v1/transactions": {"post": op("Score transactions", "ingest", {
     "200": ok("one object: its verdict; an array or NDJSON: {results:[...]} in input order",
               {"oneOf": [REF("Verdict"), REF("Results")]}),
     "400": err_resp("malformed JSON"), "413": err_resp("body or item count over the limit"),
     "415": err_resp("Content-Type not JSON / NDJSON"),
     "422": err_resp("a single transaction breaks the schema (field named)"),
     "503": err_resp("the cluster cannot score now")},
     body={"required": True, "content": {"application/json": {"schema": {"oneOf": [REF("Transaction"), {"type": "array", "items": REF("Transaction")}]}},
                                          "application/x-ndjson": {"schema": {"type": "string"}}}},
     xroles=["ingest", "admin"])},
 "/v1/anomalies": {"get": op("List anomalies, newest first", "anomalies", {
     "200": ok("a page", REF("AnomalyPage")), "400": err_resp("bad filter"), "503": err_resp("a store is unreachable")},
     params=anomaly_filters, xroles=["analyst", "admin"])},
 "/v1/anomalies/{id}": {"get": op("One anomaly with its transaction, feature snapshot, reasons and label", "anomalies", {
     "200": ok("the anomaly", REF("Anomaly")), "404": err_resp("no such anomaly")},
     params=[pp("id", "the transaction id", "t-1")], xroles=["analyst", "admin"])},
 "/v1/anomalies/{id}/label": {"post": op("Label an anomaly (analyst feedback)", "labels", {
     "200": ok("the stored label record", REF("LabelRecord")), "404": err_resp("no such anomaly"),
     "400": err_resp("malformed body"), "415": err_resp("not JSON"), "422": err_resp("bad label or note")},
     params=[pp("id", "the transaction id", "t-1")],
     body=json_body({"type": "object", "required": ["label"], "properties": {
         "label": {"type": "string", "enum": ["fraud", "legit", "unsure"]}, "note": {"type": "string", "maxLength": 2000}}}),
     xroles=["analyst", "admin"])},
 "/v1/labels": {"get": op("Every label (JSON), or the training labels file (format=csv: id,label with fraud=1, legit=0)", "labels", {
     "200": {"description": "labels", "content": {"application/json": {"schema": {"type": "object", "properties": {"labels": {"type": "array", "items": REF("LabelRecord")}}}},
                                                  "text/csv": {"schema": {"type": "string"}}}},
     "400": err_resp("bad parameter")},
     params=[qp("format", "json or csv", {"type": "string", "enum": ["json", "csv"]}),
             qp("label", "only this label", {"type": "string", "enum": ["fraud", "legit", "unsure"]})],
     xroles=["analyst", "admin"])},
 "/v1/stats/anomalies": {"get": op("Anomaly counts per time bucket (charts)", "stats", {
     "200": ok("buckets", REF("Buckets")), "400": err_resp("bad bucket or range")},
     params=[qp("bucket", "1m, 15m, 1h, 1d ...", example="1m"), qp("from", "start (default: 60 buckets ago)"), qp("to", "end (default: now)")],
     xroles=["analyst", "admin"])},
 "/v1/stats/precision": {"get": op("Measured precision per rule, detector and model version from analyst labels", "stats", {
     "200": ok("precision", REF("Precision"))}, xroles=["analyst", "admin"])},
 "/v1/cluster": {"get": op("Nodes, leader, shard map summary, gateway rates", "cluster", {
     "200": ok("cluster status", {"type": "object"}), "503": err_resp("no member answers")}, xroles=["analyst", "admin"])},
 "/v1/rules": {
     "get": op("Rule set versions in use; every rule's hits (summed over nodes)", "rules", {"200": ok("rule statistics", {"type": "object"})}, xroles=["analyst", "admin"]),
     "post": op("Push a rule set (the body is its source); activated unless activate=false", "rules", {
         "201": ok("the new version", {"type": "object"}), "422": err_resp("the source does not compile (line:col named)"), "503": err_resp("no leader")},
         params=[qp("activate", "true (default) or false", {"type": "string", "enum": ["true", "false"]})],
         body={"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}, xroles=["admin"])},
 "/v1/rules/versions": {"get": op("Kept rule set versions and the active one", "rules", {"200": ok("versions", {"type": "object"})}, xroles=["analyst", "admin"])},
 "/v1/rules/versions/{version}": {"get": op("One rule set version's source", "rules", {"200": ok("source", {"type": "object"}), "404": err_resp("no such version")},
     params=[pp("version", "a version number", "1")], xroles=["analyst", "admin"])},
 "/v1/rules/lists/{name}": {"post": op("Push a named list used by rules (one value per line)", "rules", {
     "201": ok("the new version", {"type": "object"}), "422": err_resp("bad list")}, params=[pp("name", "list name", "risky_countries")],
     body={"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}, xroles=["admin"])},
 "/v1/rules/rollback": {"post": op("Activate an older rule set version (default: the previous one)", "rules", {
     "200": ok("now active", {"type": "object"}), "404": err_resp("nothing to roll back to")},
     params=[qp("version", "the version to activate", {"type": "integer"})], xroles=["admin"])},
 "/v1/models": {
     "get": op("Model versions in use; active vs shadow counters", "models", {"200": ok("model statistics", {"type": "object"})}, xroles=["analyst", "admin"]),
     "post": op("Push a model artifact (vigil-train output); activate=true makes it score", "models", {
         "201": ok("the new version", {"type": "object"}), "422": err_resp("the artifact does not load")},
         params=[qp("activate", "false (default) or true", {"type": "string", "enum": ["true", "false"]})],
         body={"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}, xroles=["admin"])},
 "/v1/models/versions": {"get": op("Kept model versions, active and shadow", "models", {"200": ok("versions", {"type": "object"})}, xroles=["analyst", "admin"])},
 "/v1/models/activate": {"post": op("Activate a model version", "models", {"200": ok("now active", {"type": "object"}), "404": err_resp("no such version")},
     params=[qp("version", "the version", {"type": "integer"}, required=True, example=1)], xroles=["admin"])},
 "/v1/models/rollback": {"post": op("Activate the previous model version", "models", {"200": ok("now active", {"type": "object"}), "404": err_resp("nothing to roll back to")},
     params=[qp("version", "the version to activate", {"type": "integer"})], xroles=["admin"])},
 "/v1/models/shadow": {"post": op("Run a model version as the shadow (challenger), or off", "models", {"200": ok("the shadow", {"type": "object"}), "404": err_resp("no such version")},
     params=[qp("version", "a version or off", required=True, example="off")], xroles=["admin"])},
 "/v1/alerts": {"get": op("Alert history (pending, delivered, dead)", "alerts", {"200": ok("alerts", {"type": "object"}), "404": err_resp("alerting is not configured")},
     params=[qp("status", "pending, throttled, delivered or dead"), qp("channel", "a channel name"), qp("user_id", "a user"),
             qp("since", "created at or after (RFC 3339 or epoch ms)"), qp("until", "created before (RFC 3339 or epoch ms)"),
             qp("limit", "page size, 1..1000 (default 50)", {"type": "integer"}),
             qp("cursor", "the previous page's next_cursor (merged across nodes: every node's position)")],
     xroles=["analyst", "admin"])},
 "/v1/alerts/channels": {"get": op("Per node: each alert channel's health and counters", "alerts", {"200": ok("channels", {"type": "object"}), "404": err_resp("alerting is not configured")},
     xroles=["analyst", "admin"])},
 "/v1/alerts/{id}": {"get": op("One alert with its anomaly", "alerts", {"200": ok("the alert", {"type": "object"}), "404": err_resp("no such alert, or alerting is not configured")},
     params=[pp("id", "alert id <node>-<seq>", "1-1")], xroles=["analyst", "admin"])},
 "/v1/alerts/{id}/retry": {"post": op("Queue a dead alert again", "alerts", {"200": ok("queued", {"type": "object"}), "404": err_resp("no such alert"), "400": err_resp("the alert is not dead")},
     params=[pp("id", "alert id <node>-<seq>", "1-1")], xroles=["admin"])},
 "/v1/users": {
     "get": op("Users (never their password hashes)", "users", {"200": ok("users", {"type": "object", "properties": {"users": {"type": "array", "items": REF("User")}}})}, xroles=["admin"]),
     "post": op("Create a user", "users", {"201": ok("created", REF("User")), "409": err_resp("the name is taken"), "400": err_resp("bad name, role or password"), "415": err_resp("not JSON")},
         body=json_body({"type": "object", "required": ["name", "password", "role"], "properties": {
             "name": {"type": "string"}, "password": {"type": "string", "minLength": 8}, "role": {"type": "string", "enum": ["admin", "analyst", "ingest"]}}}),
         xroles=["admin"])},
 "/v1/users/{name}": {
     "put": op("Change a user's password, role or disabled flag", "users", {"200": ok("updated", {"type": "object"}), "404": err_resp("no such user"), "409": err_resp("you cannot demote or disable yourself")},
         params=[pp("name", "user name", "alice")],
         body=json_body({"type": "object", "properties": {"password": {"type": "string"}, "role": {"type": "string"}, "disabled": {"type": "boolean"}}}), xroles=["admin"]),
     "delete": op("Delete a user", "users", {"204": ok("deleted"), "404": err_resp("no such user"), "409": err_resp("you cannot delete yourself")},
         params=[pp("name", "user name", "alice")], xroles=["admin"])},
 "/v1/apikeys": {
     "get": op("API keys (id, name, role, revoked; never the secret)", "users", {"200": ok("keys", {"type": "object"})}, xroles=["admin"]),
     "post": op("Create an API key; the key is in the answer only", "users", {"201": ok("the key", {"type": "object", "properties": {"id": {"type": "string"}, "key": {"type": "string"}, "role": {"type": "string"}}}), "400": err_resp("bad role")},
         body=json_body({"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "analyst", "ingest"], "default": "ingest"}}}), xroles=["admin"])},
 "/v1/apikeys/{id}": {"delete": op("Revoke an API key", "users", {"204": ok("revoked"), "404": err_resp("no such key")},
     params=[pp("id", "key id", "0123456789ab")], xroles=["admin"])},
 "/v1/auth/token": {"post": op("Log in: a JWT for a user name + password, or for an API key", "auth", {
     "200": ok("token", {"type": "object", "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]}, "expires_in": {"type": "integer"}}}),
     "400": err_resp("missing fields"), "401": err_resp("invalid credentials"), "415": err_resp("not JSON"),
     "429": {"$ref": "#/components/responses/RateLimited"}},
     body=json_body({"type": "object", "properties": {"username": {"type": "string"}, "password": {"type": "string"}, "api_key": {"type": "string"}}}),
     security=False)},
 "/v1/auth/password": {"post": op("Change one's own password, proving the current one (login-throttled like /v1/auth/token; tokens issued before stay valid until they expire)", "auth", {
     "200": ok("changed", {"type": "object", "properties": {"name": {"type": "string"}, "status": {"type": "string"}}}),
     "400": err_resp("a missing field, a new password shorter than 8 or equal to the current one"), "401": err_resp("invalid credentials"), "415": err_resp("not JSON"),
     "429": {"$ref": "#/components/responses/RateLimited"}},
     body=json_body({"type": "object", "required": ["username", "password", "new_password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}, "new_password": {"type": "string", "minLength": 8}}}),
     security=False)},
 "/v1/openapi.json": {"get": op("This document", "meta", {"200": ok("OpenAPI 3", {"type": "object"})}, security=False)},
 "/healthz": {"get": op("Liveness", "meta", {"200": ok("alive", {"type": "object"})}, security=False)},
 "/readyz": {"get": op("Readiness (a shard map is known and a member answers)", "meta", {"200": ok("ready", {"type": "object"}), "503": ok("not ready", {"type": "object"})}, security=False)},
 "/metrics": {"get": op("Prometheus metrics", "meta", {"200": ok("text exposition", {"type": "string"}, "text/plain")}, security=False)},
}

schemas = {
 "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
     "code": {"type": "string", "description": "AUTH, FORBIDDEN, INVALID, PARSE, NOT_FOUND, EXISTS, TOO_LARGE, UNSUPPORTED, UNPROCESSABLE, RATE_LIMITED, UNREACHABLE, ..."},
     "message": {"type": "string"}, "field": {"type": "string", "description": "the offending field or parameter, when there is one"},
     "index": {"type": "integer", "description": "the item of a batch"}}}}},
 "Transaction": {"type": "object", "required": ["id", "user_id", "amount", "currency", "timestamp"], "properties": {
     "id": {"type": "string", "maxLength": 64}, "user_id": {"type": "string", "maxLength": 64}, "amount": {"type": "number", "minimum": 0},
     "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "timestamp": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
     "merchant_id": {"type": "string"}, "merchant_category": {"type": "string"}, "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
     "channel": {"type": "string"}, "device_id": {"type": "string"}, "ip": {"type": "string"},
     "lat": {"type": "number", "minimum": -90, "maximum": 90}, "lon": {"type": "number", "minimum": -180, "maximum": 180},
     "attributes": {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}]}}}},
 "Reason": {"type": "object", "properties": {"detector": {"type": "string"}, "feature": {"type": "string"}, "value": {"type": "number"},
     "baseline": {"type": "number"}, "threshold": {"type": "number"}, "contribution": {"type": "number"}}},
 "Verdict": {"type": "object", "properties": {"id": {"type": "string"}, "decision": {"type": "string", "enum": ["allow", "review", "block"]},
     "anomaly": {"type": "boolean"}, "score": {"type": "number"}, "reasons": {"type": "array", "items": REF("Reason")}}},
 "Results": {"type": "object", "properties": {"results": {"type": "array", "items": {"oneOf": [REF("Verdict"), {"type": "object", "properties": {"index": {"type": "integer"}, "id": {"type": "string"}, "error": REF("Error")}}]}}}},
 "Anomaly": {"type": "object", "properties": {"id": {"type": "string"}, "user_id": {"type": "string"}, "timestamp": {"type": "string"}, "detected_at": {"type": "string"},
     "score": {"type": "number"}, "severity": {"type": "string"}, "decision": {"type": "string"}, "amount": {"type": "number"}, "currency": {"type": "string"},
     "reasons": {"type": "array", "items": REF("Reason")}, "transaction": REF("Transaction"), "features": {"type": "object", "additionalProperties": {"type": "number", "nullable": True}},
     "label": {"type": "object", "properties": {"label": {"type": "string"}, "note": {"type": "string"}, "by": {"type": "string"}, "at": {"type": "string"}}}}},
 "AnomalyPage": {"type": "object", "properties": {"anomalies": {"type": "array", "items": REF("Anomaly")}, "next_cursor": {"type": "string", "nullable": True}}},
 "Buckets": {"type": "object", "properties": {"bucket": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}, "buckets": {"type": "array", "items": {"type": "object"}}}},
 "LabelRecord": {"type": "object", "properties": {"anomaly_id": {"type": "string"}, "label": {"type": "string"}, "note": {"type": "string"}, "by": {"type": "string"},
     "at": {"type": "integer", "description": "epoch ms"}, "user_id": {"type": "string"}, "score": {"type": "number"}, "severity": {"type": "string"}, "decision": {"type": "string"},
     "reasons": {"type": "array", "items": {"type": "object"}}}},
 "Precision": {"type": "object", "properties": {"overall": {"type": "object"}, "by_rule": {"type": "array", "items": {"type": "object"}},
     "by_detector": {"type": "array", "items": {"type": "object"}}, "by_model": {"type": "array", "items": {"type": "object"}}}},
 "User": {"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "analyst", "ingest"]}, "disabled": {"type": "boolean"}, "created": {"type": "string"}}},
}

doc = {
 "openapi": "3.0.3",
 "info": {"title": "Vigil REST API", "version": "1",
          "description": "Real-time transaction anomaly detection. Every error is {\"error\":{\"code\",\"message\",\"field\"}}. "
                         "Authenticate with Authorization: Bearer <JWT from POST /v1/auth/token> or with an API key (Authorization: Bearer vk_... or X-API-Key). "
                         "x-roles lists the roles allowed on each operation (admin may do everything)."},
 "servers": [{"url": "/"}],
 "security": [{"bearer": []}, {"apiKey": []}],
 "tags": [{"name": t} for t in ["ingest", "anomalies", "labels", "stats", "cluster", "rules", "models", "alerts", "users", "auth", "meta"]],
 "paths": paths,
 "components": {
   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                       "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
   "responses": {"RateLimited": {"description": "too many requests for this user or key", "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
                                 "content": {"application/json": {"schema": REF("Error")}}}},
   "schemas": schemas}}
json.dump(doc, sys.stdout, indent=1, sort_keys=False)
sys.stdout.write("\n")
