import { describe, expect, it } from "vitest";
import { ApiError, errorFromResponse } from "../src/api";
import { pageOf } from "../src/routes";
import type { ApiKey } from "../src/types";
import {
  actionMessage,
  checkName,
  checkPassword,
  fieldMessage,
  formErrorsOf,
  hasErrors,
  passwordChangeErrors,
  sortKeys,
  validateNewKey,
  validateNewUser,
  validatePasswordChange,
  validateSetPassword,
} from "../src/users";

const gw = (status: number, message: string, field?: string, retryAfter: string | null = null) =>
  errorFromResponse(status, JSON.stringify({ error: { code: "X", message, ...(field ? { field } : {}) } }), retryAfter);

describe("checks before sending (the gateway's limits)", () => {
  it("user names: 1..64 of A-Z a-z 0-9 . _ - @", () => {
    expect(checkName("ana.b-c_d@x")).toBeUndefined();
    expect(checkName("")).toMatch(/Enter/);
    expect(checkName("a b")).toMatch(/Only/);
    expect(checkName("zoë")).toMatch(/Only/);
    expect(checkName("a".repeat(64))).toBeUndefined();
    expect(checkName("a".repeat(65))).toMatch(/64/);
  });
  it("passwords: 8..1024 bytes of UTF-8, as the gateway counts", () => {
    expect(checkPassword("1234567")).toMatch(/At least 8/);
    expect(checkPassword("12345678")).toBeUndefined();
    expect(checkPassword("éééé")).toBeUndefined(); // 4 characters, 8 bytes
    expect(checkPassword("x".repeat(1025))).toMatch(/At most 1024/);
  });
  it("a new user: every field at once, none when all is well", () => {
    expect(validateNewUser({ name: "", password: "short", confirm: "", role: "root" })).toEqual({
      name: "Enter a user name",
      password: "At least 8 characters",
      role: "Choose a role",
    });
    expect(validateNewUser({ name: "bob", password: "long-enough", confirm: "long-enough", role: "analyst" })).toEqual({});
    expect(validateNewUser({ name: "bob", password: "long-enough", confirm: "long-enougH", role: "ingest" })).toEqual({
      confirm: "The two passwords differ",
    });
  });
  it("a password set by an admin is typed twice", () => {
    expect(validateSetPassword({ password: "new-password-1", confirm: "new-password-1" })).toEqual({});
    expect(validateSetPassword({ password: "new-password-1", confirm: "new-password-2" })).toEqual({
      confirm: "The two passwords differ",
    });
    // too short: only that is said, not the mismatch as well
    expect(validateSetPassword({ password: "short", confirm: "" })).toEqual({ password: "At least 8 characters" });
  });
  it("an API key: the name is optional, at most 64 bytes", () => {
    expect(validateNewKey({ name: "", role: "ingest" })).toEqual({});
    expect(validateNewKey({ name: "x".repeat(65), role: "analyst" })).toEqual({ name: "At most 64 characters" });
    expect(validateNewKey({ name: "loadgen", role: "" })).toEqual({ role: "Choose a role" });
  });
});

describe("validatePasswordChange", () => {
  const ok = { password: "current-pass", new_password: "brand-new-pass", confirm: "brand-new-pass" };
  it("accepts the new password typed twice", () => {
    expect(validatePasswordChange(ok)).toEqual({});
    expect(hasErrors(validatePasswordChange(ok))).toBe(false);
  });
  it("needs the current password", () => {
    expect(validatePasswordChange({ ...ok, password: "" })).toEqual({ password: "Enter your current password" });
  });
  it("checks the two new passwords match", () => {
    expect(validatePasswordChange({ ...ok, confirm: "brand-new-pasS" })).toEqual({ confirm: "The two new passwords differ" });
  });
  it("refuses a short new password, or the current one again", () => {
    expect(validatePasswordChange({ ...ok, new_password: "short", confirm: "short" })).toEqual({
      new_password: "At least 8 characters",
    });
    const same = validatePasswordChange({ password: "current-pass", new_password: "current-pass", confirm: "current-pass" });
    expect(same).toEqual({ new_password: "Must differ from the current password" });
    expect(hasErrors(same)).toBe(true);
  });
});

describe("gateway errors on forms", () => {
  it("strips the field's own name from a message shown next to it", () => {
    expect(fieldMessage("password", "password: 8 to 1024 characters")).toBe("8 to 1024 characters");
    expect(fieldMessage("new_password", "new_password: must differ from the current password")).toBe(
      "Must differ from the current password",
    );
    expect(fieldMessage("name", "user bob exists")).toBe("User bob exists");
  });
  it("puts an error next to the field the gateway names, when the form has it", () => {
    expect(formErrorsOf(gw(409, "user bob exists", "name"), ["name", "password", "role"])).toEqual({ name: "User bob exists" });
    expect(formErrorsOf(gw(400, "password: 8 to 1024 characters", "password"), ["password", "confirm"])).toEqual({
      password: "8 to 1024 characters",
    });
  });
  it("else under the form, with the gateway's own words", () => {
    // the 409 of an admin deleting themself names "name", which a confirmation has no field for
    expect(formErrorsOf(gw(409, "you cannot delete yourself", "name"), [])).toEqual({ form: "You cannot delete yourself" });
    expect(formErrorsOf(gw(503, "storage down"), ["name"])).toEqual({ form: "Storage down" });
    expect(formErrorsOf(new Error("boom"), ["name"])).toEqual({ form: "boom" });
  });
  it("keeps the friendlier wording for 403 and network failures", () => {
    expect(actionMessage(gw(403, "forbidden"))).toMatch(/Not allowed/);
    expect(actionMessage(new ApiError(0, "NETWORK", "No answer from the gateway"))).toMatch(/No answer/);
    expect(actionMessage(gw(409, "you cannot demote or disable yourself", "role"))).toBe("You cannot demote or disable yourself");
  });
  it("maps the answers of POST /v1/auth/password", () => {
    expect(passwordChangeErrors(gw(401, "invalid credentials"))).toEqual({ password: "The current password is wrong" });
    expect(passwordChangeErrors(gw(429, "too many login attempts for this name: retry later", undefined, "7"))).toEqual({
      form: "Too many attempts: try again in 7 s",
    });
    expect(passwordChangeErrors(gw(400, "new_password: 8 to 1024 characters", "new_password"))).toEqual({
      new_password: "8 to 1024 characters",
    });
    expect(passwordChangeErrors(gw(400, "username, password and new_password are required", "username"))).toEqual({
      form: "Username, password and new_password are required",
    });
  });
});

describe("API keys and the route", () => {
  it("lists keys in use first, newest first", () => {
    const k = (id: string, created: string, revoked = false): ApiKey => ({ id, role: "ingest", created, revoked });
    const keys = [
      k("a", "2026-01-01T00:00:00.000Z", true),
      k("b", "2026-01-02T00:00:00.000Z"),
      k("c", "2026-01-03T00:00:00.000Z"),
      k("d", "2026-01-04T00:00:00.000Z", true),
    ];
    expect(sortKeys(keys).map((x) => x.id)).toEqual(["c", "b", "d", "a"]);
    expect(keys[0].id).toBe("a"); // not sorted in place
  });
  it("routes #/users (and #/apikeys) to the Users page", () => {
    expect(pageOf(["users"])).toBe("users");
    expect(pageOf(["apikeys"])).toBe("users");
    expect(pageOf(["user"])).toBe("notfound");
  });
});
