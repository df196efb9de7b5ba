// Loads the N-API addon (bindings/node) built for this platform. The package ships the addon for
// the platform it was built on inside `native/` (see README, "Other platforms"); a missing one
// is a clear error naming the file and how to build it, never a bare MODULE_NOT_FOUND.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as Addon from "./addon";

export type { NativeCancel, NativeMember, NativeStore, NativeSubscription } from "./addon";

/** The platform part of the addon's file name, as napi-rs names it (`linux-x64-gnu`...). */
export function platformTriple(): string {
  const { platform, arch } = process;
  if (platform === "linux") {
    // glibc reports its version in the process report; musl does not.
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return `linux-${arch}-${report?.header?.glibcVersionRuntime ? "gnu" : "musl"}`;
  }
  return `${platform}-${arch}`;
}

function load(): typeof Addon {
  const override = process.env.GRAVEYARD_NODE_ADDON;
  const file = override ?? join(__dirname, "..", "..", "native", `graveyard.${platformTriple()}.node`);
  if (!existsSync(file)) {
    throw new Error(
      `@graveyard-db/client: no native addon for ${platformTriple()} at ${file}. ` +
        "This package ships the addon of the platform it was built on; build one for this platform " +
        "from the repository (sdk-ts/README.md, \"Other platforms\") or set GRAVEYARD_NODE_ADDON to its path.",
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as typeof Addon;
}

/** The addon, loaded once when the SDK is first imported. */
export const addon: typeof Addon = load();
