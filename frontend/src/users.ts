// Pure logic of the Users page and the change-password form: checks made
// before sending (the same limits as gateway/vg_auth.c), a gateway error
// put next to the form field it names, and the order of the API keys.

import { ApiError, describeError } from "./api";
import { ROLES, type ApiKey, type Role } from "./types";

export const NAME_MAX = 64;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

/** The errors of a form: one per field, `form` for the rest. */
export type FormErrors<F extends string> = Partial<Record<F | "form", string>>;

export function hasErrors(e: FormErrors<string>): boolean {
  return Object.values(e).some(Boolean);
}

export function isRole(r: string): r is Role {
  return (ROLES as readonly string[]).includes(r);
}

/** The gateway counts bytes, not UTF-16 units. */
function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

export function checkName(name: string): string | undefined {
  if (!name) return "Enter a user name";
  if (name.length > NAME_MAX) return `At most ${NAME_MAX} characters`;
  if (!/^[A-Za-z0-9._@-]+$/.test(name)) return "Only letters, digits and . _ - @";
  return undefined;
}

export function checkPassword(p: string): string | undefined {
  const n = utf8Length(p);
  if (n < PASSWORD_MIN) return `At least ${PASSWORD_MIN} characters`;
  if (n > PASSWORD_MAX) return `At most ${PASSWORD_MAX} characters`;
  return undefined;
}

function clean<F extends string>(e: FormErrors<F>): FormErrors<F> {
  for (const k of Object.keys(e) as (keyof FormErrors<F>)[]) if (!e[k]) delete e[k];
  return e;
}

/** An admin setting a user's password: typed twice. */
export function validateSetPassword(p: { password: string; confirm: string }): FormErrors<"password" | "confirm"> {
  const password = checkPassword(p.password);
  return clean({ password, confirm: !password && p.confirm !== p.password ? "The two passwords differ" : undefined });
}

export type NewUserField = "name" | "password" | "confirm" | "role";

export function validateNewUser(u: { name: string; password: string; confirm: string; role: string }): FormErrors<NewUserField> {
  return clean({
    name: checkName(u.name),
    ...validateSetPassword(u),
    role: isRole(u.role) ? undefined : "Choose a role",
  });
}

export type NewKeyField = "name" | "role";

export function validateNewKey(k: { name: string; role: string }): FormErrors<NewKeyField> {
  return clean({
    name: utf8Length(k.name) > NAME_MAX ? `At most ${NAME_MAX} characters` : undefined,
    role: isRole(k.role) ? undefined : "Choose a role",
  });
}

export type PasswordChangeField = "password" | "new_password" | "confirm";

/** A user changing their own password: the current one, the new one twice. */
export function validatePasswordChange(p: {
  password: string;
  new_password: string;
  confirm: string;
}): FormErrors<PasswordChangeField> {
  let next = checkPassword(p.new_password);
  if (!next && p.password && p.new_password === p.password) next = "Must differ from the current password";
  return clean({
    password: p.password ? undefined : "Enter your current password",
    new_password: next,
    confirm: !next && p.confirm !== p.new_password ? "The two new passwords differ" : undefined,
  });
}

function capitalise(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/** A gateway message shown next to its field: "password: 8 to 1024 characters" → "8 to 1024 characters". */
export function fieldMessage(field: string, message: string): string {
  const p = `${field}: `;
  return capitalise(message.startsWith(p) ? message.slice(p.length) : message);
}

/** The gateway's own message for a refused action ("you cannot delete yourself"), else describeError. */
export function actionMessage(e: unknown): string {
  if (e instanceof ApiError && e.status !== 403 && e.status !== 0) return capitalise(e.message);
  return describeError(e);
}

/** An error as form errors: next to the field the gateway names when the form has it, else for the form. */
export function formErrorsOf<F extends string>(e: unknown, fields: readonly F[]): FormErrors<F> {
  if (e instanceof ApiError && e.field && e.status !== 403 && (fields as readonly string[]).includes(e.field))
    return { [e.field]: fieldMessage(e.field, e.message) } as FormErrors<F>;
  return { form: actionMessage(e) } as FormErrors<F>;
}

/** POST /v1/auth/password refused: 401 is the current password, 429 says when to retry. */
export function passwordChangeErrors(e: unknown): FormErrors<PasswordChangeField> {
  if (e instanceof ApiError && e.status === 401) return { password: "The current password is wrong" };
  if (e instanceof ApiError && e.status === 429)
    return { form: `Too many attempts: try again in ${e.retryAfter ?? "a few"} s` };
  return formErrorsOf(e, ["password", "new_password"] as const);
}

/** Keys in use first, then revoked ones; newest first within each. */
export function sortKeys(keys: readonly ApiKey[]): ApiKey[] {
  return [...keys].sort(
    (a, b) =>
      Number(!!a.revoked) - Number(!!b.revoked) ||
      (b.created ?? "").localeCompare(a.created ?? "") ||
      a.id.localeCompare(b.id),
  );
}
