// The error classes of docs/boundary.md's codes and the mapping of the native layer's errors:
// a JS Error whose `code` is the code's name, whose `message` is the core's and whose `cause`
// (for the codes with details) is an Error with the details' JSON text as its message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import {
  ClosedError,
  CorruptionError,
  ERROR_CODES,
  EncryptionError,
  GraveyardError,
  GraveyardIoError,
  IncompatibleFormatError,
  InternalError,
  InvalidArgumentError,
  InvalidSchemaError,
  NotFoundError,
  PermissionDeniedError,
  SchemaViolationError,
  ShreddedError,
  StreamDeletedError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedError,
  WrongExpectedVersionError,
  abortError,
  errorFromCode,
  fromNative,
  isAbortError,
  isErrorCode,
  newAbortError,
  type ErrorCode,
} from '../src/errors';
import { parseJsonLossless, stringifyJsonLossless } from '../src/model';

function vectorsFile(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'conformance', 'boundary_vectors.json');
    if (existsSync(candidate)) {
      return candidate;
    }
    if (dirname(dir) === dir) {
      throw new Error(`no conformance/boundary_vectors.json above ${__dirname}`);
    }
  }
}

const vectors = parseJsonLossless(readFileSync(vectorsFile(), 'utf8')) as {
  codes: { error: Record<string, number> };
  json: { error_details: Record<string, unknown> };
};

/** An error as the native layer makes it. */
function native(code: string, message: string, details?: string): Error {
  const e = new Error(message) as Error & { code: string };
  e.code = code;
  if (details !== undefined) {
    Object.defineProperty(e, 'cause', { value: new Error(details), enumerable: false, writable: true, configurable: true });
  }
  return e;
}

const CLASSES: Record<ErrorCode, abstract new (...args: never[]) => GraveyardError> = {
  WRONG_EXPECTED_VERSION: WrongExpectedVersionError,
  STREAM_DELETED: StreamDeletedError,
  SCHEMA_VIOLATION: SchemaViolationError,
  INVALID_SCHEMA: InvalidSchemaError,
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

void test('the code table is the vectors', () => {
  assert.deepEqual({ ...ERROR_CODES }, vectors.codes.error);
  assert.deepEqual(Object.keys(CLASSES).sort(), Object.keys(ERROR_CODES).sort());
  assert.ok(isErrorCode('NOT_FOUND'));
  for (const no of ['not_found', 'CANCELLED', 'ENOENT', 'toString', '__proto__', 5, undefined]) {
    assert.ok(!isErrorCode(no), String(no));
  }
});

void test('fromNative: every code makes its class, keeping message, code and the native error as cause', () => {
  const details = vectors.json.error_details;
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const d = details[code];
    const n = native(code, `the core says ${code}`, d === undefined ? undefined : stringifyJsonLossless(d));
    const e = fromNative(n);
    const cls = CLASSES[code];
    assert.ok(e instanceof cls, code);
    assert.ok(e instanceof GraveyardError, code);
    assert.ok(e instanceof Error, code);
    assert.equal(e.code, code);
    assert.equal(e.codeNumber, ERROR_CODES[code]);
    assert.equal(e.message, `the core says ${code}`);
    assert.equal(e.cause, n);
    assert.equal(e.name, cls.name, 'name');
    assert.ok(!Object.prototype.propertyIsEnumerable.call(e, 'name'), 'name is not an own enumerable property');
    assert.equal(String(e), `${cls.name}: the core says ${code}`);
    assert.match(e.stack ?? '', new RegExp(`^${cls.name}: the core says`));
    // The typed fields, in their JSON form, are the vectors' details.
    if (d === undefined) {
      assert.equal(e.details(), undefined, code);
    } else {
      assert.deepEqual(parseJsonLossless(stringifyJsonLossless(e.details())), d, code);
    }
  }
  // The codes of the vectors that have details are the four the SDK reads.
  assert.deepEqual(Object.keys(details).sort(), ['INVALID_SCHEMA', 'SCHEMA_VIOLATION', 'STREAM_DELETED', 'WRONG_EXPECTED_VERSION']);
});

void test('fromNative: typed fields', () => {
  const wev = fromNative(native('WRONG_EXPECTED_VERSION', 'm', '{"stream":"s","expected":{"exact":1},"actual":"no_stream"}'));
  assert.ok(wev instanceof WrongExpectedVersionError);
  assert.equal(wev.stream, 's');
  assert.equal(wev.expected, 1n);
  assert.equal(wev.actual, 'no_stream');
  // u64s beyond 2^53 stay exact.
  const big = fromNative(
    native('WRONG_EXPECTED_VERSION', 'm', '{"stream":"s","expected":{"exact":18446744073709551615},"actual":9007199254740993}'),
  );
  assert.ok(big instanceof WrongExpectedVersionError);
  assert.equal(big.expected, (1n << 64n) - 1n);
  assert.equal(big.actual, 9007199254740993n);
  assert.equal(stringifyJsonLossless(big.details()), '{"stream":"s","expected":{"exact":18446744073709551615},"actual":9007199254740993}');
  for (const [expected, json] of [
    ['any', '"any"'],
    ['no_stream', '"no_stream"'],
    ['stream_exists', '"stream_exists"'],
  ] as const) {
    const e = fromNative(native('WRONG_EXPECTED_VERSION', 'm', `{"stream":"s","expected":${json},"actual":3}`));
    assert.ok(e instanceof WrongExpectedVersionError);
    assert.equal(e.expected, expected);
    assert.equal(e.actual, 3n);
  }

  const deleted = fromNative(native('STREAM_DELETED', 'm', '{"stream":"order-1"}'));
  assert.ok(deleted instanceof StreamDeletedError);
  assert.equal(deleted.stream, 'order-1');

  const violation = fromNative(
    native(
      'SCHEMA_VIOLATION',
      'm',
      '{"schema":"order","version":2,"event":1,"violations":[{"path":"qty","rule":"min","value":0,"message":"below 1"},{"path":"id","rule":"max","value":18446744073709551616,"message":"too big"},{"path":"name","rule":"required","value":null,"message":"absent"}]}',
    ),
  );
  assert.ok(violation instanceof SchemaViolationError);
  assert.equal(violation.schema, 'order');
  assert.equal(violation.version, 2);
  assert.equal(violation.event, 1);
  assert.deepEqual(violation.violations, [
    { path: 'qty', rule: 'min', value: 0, message: 'below 1' },
    { path: 'id', rule: 'max', value: 1n << 64n, message: 'too big' },
    { path: 'name', rule: 'required', value: null, message: 'absent' },
  ]);

  const invalid = fromNative(native('INVALID_SCHEMA', 'm', '{"schema":"order","problems":["no fields","min above max"]}'));
  assert.ok(invalid instanceof InvalidSchemaError);
  assert.equal(invalid.schema, 'order');
  assert.deepEqual(invalid.problems, ['no fields', 'min above max']);
});

void test('fromNative: details missing or damaged are an InternalError naming the code', () => {
  for (const [code, details] of [
    ['STREAM_DELETED', undefined],
    ['STREAM_DELETED', '{"stream":5}'],
    ['STREAM_DELETED', 'not json'],
    ['STREAM_DELETED', '[]'],
    ['WRONG_EXPECTED_VERSION', '{"stream":"s","expected":"exactly","actual":1}'],
    ['WRONG_EXPECTED_VERSION', '{"stream":"s","expected":"any","actual":-1}'],
    ['SCHEMA_VIOLATION', '{"schema":"o","version":1,"event":0,"violations":{}}'],
    ['SCHEMA_VIOLATION', '{"schema":"o","version":1.5,"event":0,"violations":[]}'],
    ['SCHEMA_VIOLATION', '{"schema":"o","version":1,"event":0,"violations":[{"path":1,"rule":"r","value":0,"message":"m"}]}'],
    ['INVALID_SCHEMA', '{"schema":"o","problems":[1]}'],
  ] as const) {
    const n = native(code, 'the message', details);
    const e = fromNative(n);
    assert.ok(e instanceof InternalError, `${code} ${details}`);
    assert.match(e.message, new RegExp(`${code} error \\(the message\\) has damaged details`));
    assert.equal(e.cause, n);
  }
  // A code without details ignores a cause.
  const e = fromNative(native('NOT_FOUND', 'm', 'whatever'));
  assert.ok(e instanceof NotFoundError);
});

void test('fromNative: anything else passes through unchanged', () => {
  const passing: unknown[] = [
    new TypeError('the SDK refused an argument'),
    new Error('no code'),
    Object.assign(new Error('a Node error'), { code: 'ENOENT' }),
    Object.assign(new Error('napi'), { code: 'InvalidArg' }),
    Object.assign(new Error('lowercase'), { code: 'not_found' }),
    Object.assign(new Error('a number code'), { code: 6 }),
    { code: 'NOT_FOUND' }, // no message: not an error of the native layer
    'a string',
    42,
    undefined,
    null,
  ];
  for (const v of passing) {
    assert.equal(fromNative(v), v);
  }
  // Errors of the SDK are errors already.
  const mine = new NotFoundError('m');
  assert.equal(fromNative(mine), mine, 'not wrapped twice');
});

void test('a native CANCELLED is an AbortError', () => {
  const n = native('CANCELLED', 'the call was cancelled');
  const e = fromNative(n);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'AbortError');
  assert.equal(e.message, 'the call was cancelled');
  assert.equal((e as Error & { cause: unknown }).cause, n);
  assert.ok(isAbortError(e));
});

void test('abortError: the signal reason, else an AbortError', () => {
  const c = new AbortController();
  const reason = new Error('stop');
  c.abort(reason);
  assert.equal(abortError(c.signal), reason);
  const plain = new AbortController();
  plain.abort();
  const e = abortError(plain.signal);
  assert.ok(isAbortError(e));
  assert.ok(e instanceof Error);
  assert.equal(abortError(AbortSignal.abort('why')), 'why');
  // A signal without a reason (a hand-made one).
  const fake = { aborted: true, reason: undefined } as unknown as AbortSignal;
  const made = abortError(fake);
  assert.ok(isAbortError(made));
  assert.equal((made as Error).message, 'This operation was aborted');
  assert.equal((made as { code?: unknown }).code, 20, 'a real DOMException');
  assert.ok(!isAbortError(new Error('x')));
  assert.ok(!isAbortError(undefined));
  assert.equal(newAbortError('m', 'c').cause, 'c');
});

void test('error classes built by hand: fields, cause, details, instanceof', () => {
  const cause = new Error('underneath');
  const w = new WrongExpectedVersionError('m', { stream: 's', expected: 4n, actual: 'no_stream' }, { cause });
  assert.equal(w.cause, cause);
  assert.deepEqual(w.details(), { stream: 's', expected: { exact: 4n }, actual: 'no_stream' });
  assert.deepEqual(new WrongExpectedVersionError('m', { stream: 's', expected: 'stream_exists', actual: 7n }).details(), {
    stream: 's',
    expected: 'stream_exists',
    actual: 7n,
  });
  assert.equal(new NotFoundError('m').cause, undefined);
  const s = new SchemaViolationError('m', { schema: 'o', version: 1, event: 0, violations: [{ path: '', rule: 'not_an_object', value: [], message: 'x' }] });
  assert.deepEqual(s.details(), { schema: 'o', version: 1, event: 0, violations: [{ path: '', rule: 'not_an_object', value: [], message: 'x' }] });
  assert.deepEqual(new InvalidSchemaError('m', { schema: 'o', problems: ['p'] }).details(), { schema: 'o', problems: ['p'] });
  const base = new GraveyardError('UNAVAILABLE', 'down');
  assert.equal(base.name, 'GraveyardError');
  assert.ok(!(base instanceof UnavailableError));
  assert.ok(errorFromCode('UNAVAILABLE', 'down', undefined) instanceof UnavailableError);
  const shred = new ShreddedError('gone', { stream: 's', revision: 3n });
  assert.equal(shred.name, 'ShreddedError');
  assert.ok(!(shred instanceof GraveyardError), 'not a code of the store');
  assert.equal(shred.revision, 3n);
  // Subclasses stay subclassable (the names are on each prototype).
  class Mine extends NotFoundError {}
  assert.equal(new Mine('m').name, 'NotFoundError');
});
