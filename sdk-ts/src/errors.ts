// The errors of the SDK: one class per error code of docs/boundary.md ("Codes"), the typed
// fields of the codes that have details ("Errors"), the mapping from the native layer's errors
// (fromNative) and what a cancelled call rejects with (abortError).
//
// model.ts and this module use each other, only inside function bodies (never at module
// top level), so either can be loaded first under CommonJS and ES modules alike.

import type { CurrentRevision, ExpectedVersion } from './model';
import { currentRevisionFromJson, expectedVersionFromJson, parseJsonLossless } from './model';

/**
 * The error codes and their numbers (docs/boundary.md, "Codes"): numbers that never change
 * meaning. The one table of the SDK; the tests hold it to conformance/boundary_vectors.json.
 */
export const ERROR_CODES = {
  WRONG_EXPECTED_VERSION: 1,
  STREAM_DELETED: 2,
  SCHEMA_VIOLATION: 3,
  INVALID_SCHEMA: 4,
  INVALID_ARGUMENT: 5,
  NOT_FOUND: 6,
  ENCRYPTION: 7,
  UNAUTHENTICATED: 8,
  PERMISSION_DENIED: 9,
  UNAVAILABLE: 10,
  CLOSED: 11,
  CORRUPTION: 12,
  INCOMPATIBLE_FORMAT: 13,
  IO: 14,
  INTERNAL: 15,
  UNSUPPORTED: 16,
} as const;

/** The name of an error code, e.g. `'WRONG_EXPECTED_VERSION'`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether `name` is the name of an error code. */
export function isErrorCode(name: unknown): name is ErrorCode {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, name);
}

export interface GraveyardErrorOptions {
  /** What caused it (for an error of the native layer: that error). */
  cause?: unknown;
}

// `name` goes on the prototype (non-enumerable, as on Error.prototype), written out per class
// rather than taken from the constructor's name, which bundlers and minifiers rename.
function named(cls: { prototype: Error }, name: string): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true, enumerable: false });
}

/**
 * Every failure the store reports: its code (switch on it, or use the subclasses with
 * `instanceof`), a message for people (never to be compared) and, for the codes that have
 * them, typed fields on the subclass.
 */
export class GraveyardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: GraveyardErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** The number of the code (docs/boundary.md, "Codes"). */
  get codeNumber(): number {
    return ERROR_CODES[this.code];
  }

  /**
   * The typed fields in their JSON form (docs/boundary.md, "Errors": snake_case keys, bigint
   * for u64 values; write it with stringifyJsonLossless), or undefined for codes without them.
   */
  details(): Record<string, unknown> | undefined {
    return undefined;
  }

  static {
    named(this, 'GraveyardError');
  }
}

/** The stream's current revision did not satisfy the expected version; nothing was written. */
export class WrongExpectedVersionError extends GraveyardError {
  readonly stream: string;
  readonly expected: ExpectedVersion;
  readonly actual: CurrentRevision;

  constructor(
    message: string,
    fields: { stream: string; expected: ExpectedVersion; actual: CurrentRevision },
    options?: GraveyardErrorOptions,
  ) {
    super('WRONG_EXPECTED_VERSION', message, options);
    this.stream = fields.stream;
    this.expected = fields.expected;
    this.actual = fields.actual;
  }

  override details(): Record<string, unknown> {
    return {
      stream: this.stream,
      expected: typeof this.expected === 'bigint' ? { exact: this.expected } : this.expected,
      actual: this.actual,
    };
  }

  static {
    named(this, 'WrongExpectedVersionError');
  }
}

/** The stream was tombstoned (or shredded, for appends and snapshots): its name is closed. */
export class StreamDeletedError extends GraveyardError {
  readonly stream: string;

  constructor(message: string, fields: { stream: string }, options?: GraveyardErrorOptions) {
    super('STREAM_DELETED', message, options);
    this.stream = fields.stream;
  }

  override details(): Record<string, unknown> {
    return { stream: this.stream };
  }

  static {
    named(this, 'StreamDeletedError');
  }
}

/**
 * One broken rule of a schema: where (`address.zip`, `items[2]`, `''` for the data itself),
 * which rule (`required`, `min`...), the offending JSON value (null when absent; integers
 * beyond 2^53 as bigint) and a message that never repeats the value.
 */
export interface Violation {
  path: string;
  rule: string;
  value: unknown;
  message: string;
}

/** Event `event` (its index in the append) broke its schema; nothing was written. */
export class SchemaViolationError extends GraveyardError {
  readonly schema: string;
  readonly version: number;
  readonly event: number;
  readonly violations: readonly Violation[];

  constructor(
    message: string,
    fields: { schema: string; version: number; event: number; violations: readonly Violation[] },
    options?: GraveyardErrorOptions,
  ) {
    super('SCHEMA_VIOLATION', message, options);
    this.schema = fields.schema;
    this.version = fields.version;
    this.event = fields.event;
    this.violations = fields.violations;
  }

  override details(): Record<string, unknown> {
    return {
      schema: this.schema,
      version: this.version,
      event: this.event,
      violations: this.violations.map((v) => ({ path: v.path, rule: v.rule, value: v.value, message: v.message })),
    };
  }

  static {
    named(this, 'SchemaViolationError');
  }
}

/** A schema definition was refused: every problem of it. */
export class InvalidSchemaError extends GraveyardError {
  readonly schema: string;
  readonly problems: readonly string[];

  constructor(message: string, fields: { schema: string; problems: readonly string[] }, options?: GraveyardErrorOptions) {
    super('INVALID_SCHEMA', message, options);
    this.schema = fields.schema;
    this.problems = fields.problems;
  }

  override details(): Record<string, unknown> {
    return { schema: this.schema, problems: [...this.problems] };
  }

  static {
    named(this, 'InvalidSchemaError');
  }
}

/** A request the store refuses: a bad name, size, id, option or JSON value. */
export class InvalidArgumentError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
  }
  static {
    named(this, 'InvalidArgumentError');
  }
}

/** The stream, group, schema or version does not exist. */
export class NotFoundError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('NOT_FOUND', message, options);
  }
  static {
    named(this, 'NotFoundError');
  }
}

/** A wrong or missing key, or sealed data that fails its authentication tag. */
export class EncryptionError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('ENCRYPTION', message, options);
  }
  static {
    named(this, 'EncryptionError');
  }
}

/** A node refused the credentials (its token). */
export class UnauthenticatedError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('UNAUTHENTICATED', message, options);
  }
  static {
    named(this, 'UnauthenticatedError');
  }
}

export class PermissionDeniedError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('PERMISSION_DENIED', message, options);
  }
  static {
    named(this, 'PermissionDeniedError');
  }
}

/** A node cannot be reached, a store is locked by another process, a session dropped. */
export class UnavailableError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('UNAVAILABLE', message, options);
  }
  static {
    named(this, 'UnavailableError');
  }
}

/** The store (or client) was closed. */
export class ClosedError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('CLOSED', message, options);
  }
  static {
    named(this, 'ClosedError');
  }
}

export class CorruptionError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('CORRUPTION', message, options);
  }
  static {
    named(this, 'CorruptionError');
  }
}

/** Not a GraveyardDB store, or one written in a newer on-disk format. */
export class IncompatibleFormatError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('INCOMPATIBLE_FORMAT', message, options);
  }
  static {
    named(this, 'IncompatibleFormatError');
  }
}

/** The code IO. Not named IoError: Node's own I/O failures are plain Errors with `code`s. */
export class GraveyardIoError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('IO', message, options);
  }
  static {
    named(this, 'GraveyardIoError');
  }
}

/** A bug of GraveyardDB (also: a buffer or JSON text of the native layer the SDK cannot read). */
export class InternalError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('INTERNAL', message, options);
  }
  static {
    named(this, 'InternalError');
  }
}

/** The operation exists, but this kind of store cannot do it. */
export class UnsupportedError extends GraveyardError {
  constructor(message: string, options?: GraveyardErrorOptions) {
    super('UNSUPPORTED', message, options);
  }
  static {
    named(this, 'UnsupportedError');
  }
}

/**
 * What `json()`, `text()` and `metadataJson()` of a shredded event throw: its stream's key was
 * destroyed, and its data and metadata with it. Not a code of the store: reading the event
 * succeeded (with `shredded` true and empty data).
 */
export class ShreddedError extends Error {
  readonly stream: string;
  readonly revision: bigint;

  constructor(message: string, fields: { stream: string; revision: bigint }, options?: GraveyardErrorOptions) {
    super(message, options);
    this.stream = fields.stream;
    this.revision = fields.revision;
  }
  static {
    named(this, 'ShreddedError');
  }
}

type SimpleCode = Exclude<ErrorCode, 'WRONG_EXPECTED_VERSION' | 'STREAM_DELETED' | 'SCHEMA_VIOLATION' | 'INVALID_SCHEMA'>;

const SIMPLE: { readonly [C in SimpleCode]: new (message: string, options?: GraveyardErrorOptions) => GraveyardError } = {
  INVALID_ARGUMENT: InvalidArgumentError,
  NOT_FOUND: NotFoundError,
  ENCRYPTION: EncryptionError,
  UNAUTHENTICATED: UnauthenticatedError,
  PERMISSION_DENIED: PermissionDeniedError,
  UNAVAILABLE: UnavailableError,
  CLOSED: ClosedError,
  CORRUPTION: CorruptionError,
  INCOMPATIBLE_FORMAT: IncompatibleFormatError,
  IO: GraveyardIoError,
  INTERNAL: InternalError,
  UNSUPPORTED: UnsupportedError,
};

/**
 * The error of a code with its message and, for the four codes with details, their JSON text
 * (docs/boundary.md, "Errors"), read losslessly. Details that are missing or unreadable make an
 * InternalError naming the code: the SDK and its native layer ship together, so it is a bug,
 * and typed fields are never filled with guesses.
 */
export function errorFromCode(code: ErrorCode, message: string, details: string | undefined, options?: GraveyardErrorOptions): GraveyardError {
  switch (code) {
    case 'WRONG_EXPECTED_VERSION':
    case 'STREAM_DELETED':
    case 'SCHEMA_VIOLATION':
    case 'INVALID_SCHEMA':
      try {
        return detailed(code, message, details, options);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        return new InternalError(`the native layer's ${code} error (${message}) has damaged details: ${why}`, options);
      }
    default: {
      const cls = SIMPLE[code];
      // A code outside the table (a caller's cast): still an error of the store.
      return cls === undefined ? new GraveyardError(code, message, options) : new cls(message, options);
    }
  }
}

function detailed(
  code: 'WRONG_EXPECTED_VERSION' | 'STREAM_DELETED' | 'SCHEMA_VIOLATION' | 'INVALID_SCHEMA',
  message: string,
  details: string | undefined,
  options: GraveyardErrorOptions | undefined,
): GraveyardError {
  if (details === undefined) {
    throw new Error('none given');
  }
  const d = record(parseJsonLossless(details), 'the details');
  switch (code) {
    case 'WRONG_EXPECTED_VERSION':
      return new WrongExpectedVersionError(
        message,
        {
          stream: text(d.stream, 'stream'),
          expected: expectedVersionFromJson(d.expected),
          actual: currentRevisionFromJson(d.actual),
        },
        options,
      );
    case 'STREAM_DELETED':
      return new StreamDeletedError(message, { stream: text(d.stream, 'stream') }, options);
    case 'SCHEMA_VIOLATION': {
      if (!Array.isArray(d.violations)) {
        throw new Error('violations is not an array');
      }
      const violations = (d.violations as unknown[]).map((raw, i): Violation => {
        const v = record(raw, `violation ${i}`);
        return {
          path: text(v.path, 'path'),
          rule: text(v.rule, 'rule'),
          // Absent is null, as the details' JSON says it.
          value: v.value === undefined ? null : v.value,
          message: text(v.message, 'message'),
        };
      });
      return new SchemaViolationError(
        message,
        { schema: text(d.schema, 'schema'), version: count(d.version, 'version'), event: count(d.event, 'event'), violations },
        options,
      );
    }
    case 'INVALID_SCHEMA': {
      if (!Array.isArray(d.problems)) {
        throw new Error('problems is not an array');
      }
      const problems = (d.problems as unknown[]).map((p, i) => text(p, `problem ${i}`));
      return new InvalidSchemaError(message, { schema: text(d.schema, 'schema'), problems }, options);
    }
  }
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error(`${what} is not an object`);
  }
  return v as Record<string, unknown>;
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string') {
    throw new Error(`${what} is not a string`);
  }
  return v;
}

function count(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`${what} is not a count`);
  }
  return v;
}

/**
 * The SDK's error for an error of the native layer: a JS error whose `code` is an error code's
 * name, whose `message` is the core's message and whose `cause` (for the codes with details)
 * is an error with the details' JSON text as its message. The result keeps the native error as
 * its `cause`. A native `CANCELLED` (a cancel token pulled) becomes a DOMException named
 * `AbortError`. Any other value (a GraveyardError, a TypeError of the SDK's own checks, napi's
 * argument errors, Node's errors with their `ERR_` / `E` codes) is returned unchanged.
 */
export function fromNative(e: unknown): unknown {
  // An error of the SDK already (mapped once, or made by the SDK) is never wrapped again.
  if (typeof e !== 'object' || e === null || e instanceof GraveyardError) {
    return e;
  }
  const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof message !== 'string') {
    return e;
  }
  if (code === 'CANCELLED') {
    return newAbortError(message, e);
  }
  if (!isErrorCode(code)) {
    return e;
  }
  let details: string | undefined;
  if (typeof cause === 'object' && cause !== null) {
    const m = (cause as { message?: unknown }).message;
    details = typeof m === 'string' ? m : undefined;
  }
  return errorFromCode(code, message, details, { cause: e });
}

// Node 20's global DOMException; @types/node 20.9 does not declare it (lib has no "dom").
const DOMExceptionCtor = (
  globalThis as unknown as {
    DOMException: new (message?: string, options?: { name?: string; cause?: unknown }) => Error;
  }
).DOMException;

/** A DOMException named `AbortError`, what fetch and Node's own APIs reject with when aborted. */
export function newAbortError(message = 'This operation was aborted', cause?: unknown): Error {
  return cause === undefined
    ? new DOMExceptionCtor(message, { name: 'AbortError' })
    : new DOMExceptionCtor(message, { name: 'AbortError', cause });
}

/**
 * What a call cancelled by `signal` rejects with: the signal's reason when it has one (Node
 * sets a DOMException AbortError for `abort()` without one), else a new AbortError.
 */
export function abortError(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason === undefined ? newAbortError() : reason;
}

/** Whether `e` is an AbortError (what abortError makes when the signal gave no reason). */
export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}
