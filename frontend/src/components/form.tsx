// A small form in a modal (users, API keys, passwords): its values, the
// checks made before sending, the gateway's refusal shown next to the field
// it names (or under the form), and a busy state while it is sent.

import type { ComponentChildren } from "preact";
import { useId, useState } from "preact/hooks";
import { formErrorsOf, hasErrors, type FormErrors } from "../users";
import { Modal, Spinner } from "./ui";

export interface Form<K extends string> {
  values: Record<K, string>;
  errors: FormErrors<K>;
  busy: boolean;
  /** the props of the InputField / SelectField of `k` */
  field: (k: K) => { name: K; value: string; error?: string; onInput: (e: Event) => void };
  submit: (e: Event) => void;
}

/**
 * `validate` runs first; `send` only when it finds nothing. A failure of `send` goes
 * through `onError` (by default: next to the field the gateway names, if the form has it).
 */
export function useForm<K extends string>(
  initial: Record<K, string>,
  validate: (v: Record<K, string>) => FormErrors<K>,
  send: (v: Record<K, string>) => Promise<unknown>,
  onError: (e: unknown) => FormErrors<K> = (e) => formErrorsOf(e, Object.keys(initial) as K[]),
): Form<K> {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState<FormErrors<K>>({});
  const [busy, setBusy] = useState(false);
  const field = (k: K) => ({
    name: k,
    value: values[k],
    error: errors[k],
    onInput: (e: Event) => setValues((v) => ({ ...v, [k]: (e.target as HTMLInputElement).value })),
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const v = validate(values);
    setErrors(v);
    if (hasErrors(v)) return;
    setBusy(true);
    try {
      await send(values);
    } catch (ex) {
      setErrors(onError(ex));
    } finally {
      setBusy(false);
    }
  };
  return { values, errors, busy, field, submit };
}

/** A form in a modal: its fields, the form-wide error, and Cancel / submit in the footer. */
export function FormModal<K extends string>({
  title,
  form,
  submit,
  onClose,
  testid,
  children,
}: {
  title: string;
  form: Form<K>;
  /** text of the submit button */
  submit: string;
  onClose: () => void;
  /** data-testid of the form; its submit button is `${testid}-submit` */
  testid: string;
  children: ComponentChildren;
}) {
  const id = useId();
  return (
    <Modal
      title={title}
      onClose={() => !form.busy && onClose()}
      footer={
        <>
          <button type="button" class="btn btn-ghost" onClick={onClose} disabled={form.busy}>
            Cancel
          </button>
          <button type="submit" form={id} class="btn btn-primary" disabled={form.busy} data-testid={`${testid}-submit`}>
            {form.busy && <Spinner label="Saving" />} {submit}
          </button>
        </>
      }
    >
      <form id={id} class="form-stack" onSubmit={form.submit} aria-label={title} data-testid={testid} noValidate>
        {children}
        {form.errors.form && (
          <div class="form-error" role="alert">
            {form.errors.form}
          </div>
        )}
      </form>
    </Modal>
  );
}
