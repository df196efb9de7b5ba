// The shipped declarations use Node's types (Buffer, AsyncDisposable): a TypeScript user needs
// @types/node, as every Node.js project in TypeScript has.
/// <reference types="node" />
// @graveyard-db/client: GraveyardDB for TypeScript and JavaScript.
export { Graveyard } from "./client";
export type {
  AppendInput,
  AppendOptions,
  ConnectOptions,
  CreateGroupOptions,
  EventData,
  EventIterable,
  OpenOptions,
  ReadAllOptions,
  ReadOptions,
  SubscribeOptions,
  SubscribeToAllOptions,
} from "./client";
export type { CallOptions } from "./call";
export { GroupDelivery, GroupMember, Subscription, TIMED_OUT, ENDED_SESSION } from "./sessions";
export * from "./model";
export * from "./errors";
export * from "./schema";
import { addon } from "./native";

/** The version of GraveyardDB the native addon was built from. */
export function nativeVersion(): string {
  return addon.version();
}
