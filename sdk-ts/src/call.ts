// One place where a call crosses into the addon: its error becomes the SDK's error class, and an
// AbortSignal settles it at once with the signal's reason while a cancel token stops the native
// side (the operation may still take effect, as with a cancelled remote call).
/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- an aborted call rejects with
   exactly its signal's reason, whatever the caller made it, as the platform's own APIs do. */
import { addon, type NativeCancel } from "./native";
import { abortError, fromNative } from "./errors";

export interface CallOptions {
  /** Cancels a waiting call or iterator: it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * `token`: the caller's own cancel token for this call, for a caller that may have to stop it
 * without an abort (an iterator left with a read ahead in flight); the signal pulls it too.
 */
export function call<T>(
  signal: AbortSignal | undefined,
  run: (token: NativeCancel | undefined) => Promise<T>,
  token?: NativeCancel,
): Promise<T> {
  if (signal === undefined) {
    return invoke(run, token);
  }
  if (signal.aborted) {
    return Promise.reject(abortError(signal));
  }
  const cancel = token ?? new addon.NativeCancel();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      cancel.cancel();
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    invoke(run, cancel).then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

async function invoke<T>(run: (token: NativeCancel | undefined) => Promise<T>, token: NativeCancel | undefined): Promise<T> {
  try {
    // `run` may throw synchronously (an argument the addon refuses): the same error path.
    return await run(token);
  } catch (e) {
    throw fromNative(e);
  }
}
