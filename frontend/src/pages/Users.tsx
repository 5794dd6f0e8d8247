// Users and API keys (admin only; the nav entry is not shown to others and
// the gateway refuses them anyway): create users, change their role,
// disable or enable them, set a new password, delete them; create API keys
// (the secret is shown once, right after) and revoke them.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { FormModal, useForm } from "../components/form";
import { InputField, Options, RefreshButton, SelectField } from "../components/table";
import { Card, Empty, ErrorState, Loading, Modal, Pill, Spinner, Time } from "../components/ui";
import { useApp } from "../context";
import { useNow, useResource, useTitle } from "../hooks";
import { ROLES, type ApiKeyCreated, type ApiKeysResponse, type User, type UsersResponse } from "../types";
import { actionMessage, isRole, sortKeys, validateNewKey, validateNewUser, validateSetPassword } from "../users";

interface Confirm {
  title: string;
  body: ComponentChildren;
  action: string;
  run: () => Promise<unknown>;
}

export function Users() {
  const { isAdmin } = useApp();
  useTitle("Users & API keys");
  return (
    <div class="page page-users">
      <header class="page-head">
        <div>
          <h1>Users &amp; API keys</h1>
          <p class="page-sub">Who signs in to the dashboard, and the keys that send transactions or call the API.</p>
        </div>
      </header>
      {isAdmin ? (
        <>
          <UsersCard />
          <KeysCard />
        </>
      ) : (
        <div class="card">
          <Empty title="Admins only" icon="lock">
            Ask an admin to create users or API keys.
          </Empty>
        </div>
      )}
    </div>
  );
}

function UsersCard() {
  const { api, session, toast } = useApp();
  const now = useNow(60_000);
  const users = useResource((s) => api.get<UsersResponse>("/v1/users", undefined, s), []);
  const [creating, setCreating] = useState(false);
  const [passwordFor, setPasswordFor] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const list = [...(users.data?.users ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  const patch = async (u: User, body: { role?: string; disabled?: boolean }, done: string) => {
    setBusy(u.name);
    setError(null);
    try {
      await api.request("PATCH", `/v1/users/${encodeURIComponent(u.name)}`, { body });
      toast("ok", done);
    } catch (e) {
      setError(actionMessage(e));
    } finally {
      setBusy(null);
      users.reload(true);
    }
  };

  return (
    <Card
      title="Users"
      subtitle="Admins manage users and keys and activate rules and models; analysts read and label; ingest only sends transactions."
      id="users"
      actions={
        <>
          <RefreshButton onClick={() => users.reload(true)} disabled={users.loading} />
          <button class="btn btn-sm btn-primary" onClick={() => setCreating(true)} data-testid="user-new">
            New user
          </button>
        </>
      }
    >
      {error && (
        <div class="form-error" role="alert" data-testid="users-error">
          {error}
        </div>
      )}
      {users.loading && !users.data && <Loading />}
      {users.error ? <ErrorState error={users.error} onRetry={() => users.reload()} compact /> : null}
      {users.data &&
        (list.length === 0 ? (
          <Empty title="No users yet" icon="user" />
        ) : (
          <div class="table-scroll">
            <table class="grid" aria-label="Users" data-testid="users-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col" class="actions" aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {list.map((u) => (
                  <tr key={u.name} data-testid="user-row" data-name={u.name}>
                    <td class="mono">
                      {u.name}
                      {u.name === session.user && (
                        <>
                          {" "}
                          <Pill title="You are signed in as this user">you</Pill>
                        </>
                      )}
                    </td>
                    <td>
                      <select
                        class="input input-sm"
                        name="role"
                        value={u.role}
                        disabled={busy === u.name}
                        aria-label={`Role of ${u.name}`}
                        onChange={(e) => {
                          const role = (e.target as HTMLSelectElement).value;
                          patch(u, { role }, `${u.name} is now ${role}`);
                        }}
                      >
                        <Options values={isRole(u.role) ? ROLES : [...ROLES, u.role]} />
                      </select>
                    </td>
                    <td>
                      {u.disabled ? <Pill tone="bad">disabled</Pill> : <Pill tone="active">active</Pill>}
                    </td>
                    <td class="nowrap">
                      <Time value={u.created} now={now} short />
                    </td>
                    <td class="actions nowrap">
                      {busy === u.name && <Spinner label="Saving" />}
                      <button
                        class="btn btn-sm"
                        disabled={busy === u.name}
                        onClick={() => patch(u, { disabled: !u.disabled }, `${u.name} ${u.disabled ? "enabled" : "disabled"}`)}
                        aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.name}`}
                        data-testid="user-toggle"
                      >
                        {u.disabled ? "Enable" : "Disable"}
                      </button>
                      <button
                        class="btn btn-sm"
                        onClick={() => setPasswordFor(u.name)}
                        aria-label={`Set a new password for ${u.name}`}
                        data-testid="user-password"
                      >
                        Set password
                      </button>
                      <button
                        class="btn btn-sm btn-ghost"
                        onClick={() =>
                          setConfirm({
                            title: `Delete user ${u.name}`,
                            body: (
                              <>
                                <strong>{u.name}</strong> can no longer sign in. Tokens already issued stay valid until
                                they expire. This cannot be undone.
                              </>
                            ),
                            action: "Delete",
                            run: () => api.request("DELETE", `/v1/users/${encodeURIComponent(u.name)}`),
                          })
                        }
                        aria-label={`Delete ${u.name}`}
                        data-testid="user-delete"
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {creating && (
        <NewUser
          onClose={() => setCreating(false)}
          onDone={(name) => {
            setCreating(false);
            toast("ok", `User ${name} created`);
            users.reload(true);
          }}
        />
      )}
      {passwordFor && <SetPassword name={passwordFor} onClose={() => setPasswordFor(null)} />}
      {confirm && (
        <ConfirmModal
          c={confirm}
          onClose={() => setConfirm(null)}
          onDone={() => {
            setConfirm(null);
            users.reload(true);
          }}
        />
      )}
    </Card>
  );
}

function NewUser({ onClose, onDone }: { onClose: () => void; onDone: (name: string) => void }) {
  const { api } = useApp();
  const form = useForm({ name: "", password: "", confirm: "", role: "analyst" }, validateNewUser, async (v) => {
    await api.post("/v1/users", { name: v.name, password: v.password, role: v.role });
    onDone(v.name);
  });
  return (
    <FormModal title="New user" form={form} submit="Create user" onClose={onClose} testid="user-form">
      <InputField label="User name" autoComplete="off" autoFocus maxLength={64} {...form.field("name")} />
      <SelectField label="Role" {...form.field("role")}>
        <Options values={ROLES} />
      </SelectField>
      <InputField
        label="Password (at least 8 characters)"
        type="password"
        autoComplete="new-password"
        {...form.field("password")}
      />
      <InputField label="Password again" type="password" autoComplete="new-password" {...form.field("confirm")} />
    </FormModal>
  );
}

function SetPassword({ name, onClose }: { name: string; onClose: () => void }) {
  const { api, toast } = useApp();
  const form = useForm({ password: "", confirm: "" }, validateSetPassword, async (v) => {
    await api.request("PATCH", `/v1/users/${encodeURIComponent(name)}`, { body: { password: v.password } });
    toast("ok", `New password set for ${name}`);
    onClose();
  });
  return (
    <FormModal title={`New password for ${name}`} form={form} submit="Set password" onClose={onClose} testid="set-password-form">
      <p class="muted small">Tell {name} the new password; they can change it themselves after signing in.</p>
      <InputField
        label="New password (at least 8 characters)"
        type="password"
        autoComplete="new-password"
        autoFocus
        {...form.field("password")}
      />
      <InputField label="New password again" type="password" autoComplete="new-password" {...form.field("confirm")} />
    </FormModal>
  );
}

/** Asks before `c.run`; the gateway's refusal stays in the dialog. */
function ConfirmModal({ c, onClose, onDone }: { c: Confirm; onClose: () => void; onDone: () => void }) {
  const { toast } = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await c.run();
      toast("ok", `${c.title}: done`);
      onDone();
    } catch (e) {
      setError(actionMessage(e));
      setBusy(false);
    }
  };
  return (
    <Modal
      title={c.title}
      onClose={() => !busy && onClose()}
      footer={
        <>
          <button class="btn btn-ghost" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button class="btn btn-danger" onClick={run} disabled={busy} data-testid="confirm">
            {busy && <Spinner label="Working" />} {c.action}
          </button>
        </>
      }
    >
      <p>{c.body}</p>
      {error && (
        <div class="form-error confirm-error" role="alert" data-testid="confirm-error">
          {error}
        </div>
      )}
    </Modal>
  );
}

function KeysCard() {
  const { api } = useApp();
  const now = useNow(60_000);
  const keys = useResource((s) => api.get<ApiKeysResponse>("/v1/apikeys", undefined, s), []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const list = sortKeys(keys.data?.api_keys ?? []);

  return (
    <Card
      title="API keys"
      subtitle={
        <>
          Programs send a key in the <code>X-API-Key</code> header. Only a hash of each key is stored: a lost key cannot be
          shown again, revoke it and create another.
        </>
      }
      id="apikeys"
      actions={
        <>
          <RefreshButton onClick={() => keys.reload(true)} disabled={keys.loading} />
          <button class="btn btn-sm btn-primary" onClick={() => setCreating(true)} data-testid="key-new">
            New API key
          </button>
        </>
      }
    >
      {keys.loading && !keys.data && <Loading />}
      {keys.error ? <ErrorState error={keys.error} onRetry={() => keys.reload()} compact /> : null}
      {keys.data &&
        (list.length === 0 ? (
          <Empty title="No API keys yet" icon="lock">
            Create one for <code>vigil-loadgen</code>, a Kafka-less producer or a script.
          </Empty>
        ) : (
          <div class="table-scroll">
            <table class="grid" aria-label="API keys" data-testid="keys-table">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col" class="actions" aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {list.map((k) => (
                  <tr key={k.id} data-testid="key-row" data-id={k.id} class={k.revoked ? "is-revoked" : ""}>
                    <td class="mono">{k.id}</td>
                    <td>{k.name || <span class="muted">—</span>}</td>
                    <td>{k.role}</td>
                    <td>{k.revoked ? <Pill tone="bad">revoked</Pill> : <Pill tone="active">active</Pill>}</td>
                    <td class="nowrap">
                      <Time value={k.created} now={now} short />
                    </td>
                    <td class="actions">
                      {!k.revoked && (
                        <button
                          class="btn btn-sm btn-ghost"
                          onClick={() =>
                            setConfirm({
                              title: `Revoke API key ${k.id}`,
                              body: (
                                <>
                                  Requests with this key{k.name ? ` (${k.name})` : ""} are refused from now on. This cannot
                                  be undone.
                                </>
                              ),
                              action: "Revoke",
                              run: () => api.request("DELETE", `/v1/apikeys/${encodeURIComponent(k.id)}`),
                            })
                          }
                          aria-label={`Revoke key ${k.id}`}
                          data-testid="key-revoke"
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {creating && (
        <NewKey
          onClose={() => setCreating(false)}
          onDone={(k) => {
            setCreating(false);
            setCreated(k);
            keys.reload(true);
          }}
        />
      )}
      {created && <KeyOnce k={created} onClose={() => setCreated(null)} />}
      {confirm && (
        <ConfirmModal
          c={confirm}
          onClose={() => setConfirm(null)}
          onDone={() => {
            setConfirm(null);
            keys.reload(true);
          }}
        />
      )}
    </Card>
  );
}

function NewKey({ onClose, onDone }: { onClose: () => void; onDone: (k: ApiKeyCreated) => void }) {
  const { api } = useApp();
  const form = useForm({ name: "", role: "ingest" }, validateNewKey, async (v) => {
    onDone(await api.post<ApiKeyCreated>("/v1/apikeys", { name: v.name, role: v.role }));
  });
  return (
    <FormModal title="New API key" form={form} submit="Create key" onClose={onClose} testid="key-form">
      <InputField label="Name (what uses it)" autoComplete="off" autoFocus maxLength={64} {...form.field("name")} />
      <SelectField label="Role" {...form.field("role")}>
        <Options values={ROLES} />
      </SelectField>
      <p class="muted small">Ingest keys only send transactions; give a program no more than it needs.</p>
    </FormModal>
  );
}

/** The new key's secret, shown this once (it is not kept in any state after this closes). */
function KeyOnce({ k, onClose }: { k: ApiKeyCreated; onClose: () => void }) {
  const { toast } = useApp();
  const copy = async (input: HTMLInputElement | null) => {
    try {
      await navigator.clipboard.writeText(k.key);
      return toast("ok", "Key copied to the clipboard");
    } catch {
      /* no clipboard API (plain HTTP) or no permission: select it and try the old way */
    }
    input?.focus();
    input?.select();
    const done = (() => {
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    })();
    toast(done ? "ok" : "info", done ? "Key copied to the clipboard" : "The key is selected: press Ctrl+C to copy it");
  };
  return (
    <Modal
      title="API key created"
      onClose={onClose}
      footer={
        <button class="btn btn-primary" onClick={onClose} data-testid="key-done">
          I have stored the key
        </button>
      }
    >
      <div class="form-stack">
        <div class="notice" role="status">
          Copy the key now: <strong>it will not be shown again</strong>. Only its hash is stored.
        </div>
        <div class="field">
          <span>
            Key <span class="mono">{k.id}</span> · role {k.role}
          </span>
          <div class="row gap-sm">
            <input
              class="input mono grow"
              readOnly
              autoFocus
              value={k.key}
              onFocus={(e) => (e.target as HTMLInputElement).select()}
              aria-label="The new API key"
              data-testid="key-secret"
            />
            <button
              type="button"
              class="btn"
              onClick={(e) => copy((e.currentTarget as HTMLElement).parentElement?.querySelector("input") ?? null)}
              data-testid="key-copy"
            >
              Copy
            </button>
          </div>
        </div>
      </div>
    </Modal>
  );
}
