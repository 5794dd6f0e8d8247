// Changing one's own password (POST /v1/auth/password): the current
// password and the new one twice. Open to every signed-in user from the
// sidebar. Sent without the token (the gateway checks the current
// password instead), so a wrong one answers 401 without ending the session.

import { useApp } from "../context";
import { passwordChangeErrors, validatePasswordChange } from "../users";
import { FormModal, useForm } from "./form";
import { InputField } from "./table";

export function ChangePassword({ onClose }: { onClose: () => void }) {
  const { api, session, toast } = useApp();
  const form = useForm(
    { password: "", new_password: "", confirm: "" },
    validatePasswordChange,
    async (v) => {
      await api.request("POST", "/v1/auth/password", {
        body: { username: session.user, password: v.password, new_password: v.new_password },
        anonymous: true,
      });
      toast("ok", "Password changed: sign in with the new one from now on");
      onClose();
    },
    passwordChangeErrors,
  );
  return (
    <FormModal title="Change password" form={form} submit="Change password" onClose={onClose} testid="password-form">
      <p class="muted small">
        For <strong>{session.user}</strong>. Sessions already signed in stay valid until they expire.
      </p>
      <input type="text" name="username" autoComplete="username" value={session.user} readOnly hidden />
      <InputField
        label="Current password"
        type="password"
        autoComplete="current-password"
        autoFocus
        {...form.field("password")}
      />
      <InputField
        label="New password (at least 8 characters)"
        type="password"
        autoComplete="new-password"
        {...form.field("new_password")}
      />
      <InputField label="New password again" type="password" autoComplete="new-password" {...form.field("confirm")} />
    </FormModal>
  );
}
