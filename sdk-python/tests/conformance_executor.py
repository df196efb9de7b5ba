"""The Python SDK's executor of the conformance protocol (conformance/README.md, "Running the
scenarios in an SDK"): one JSON request per line on stdin, one JSON answer per line on stdout.
It only dispatches: each request is one call of the SDK's public API, each answer its result or
its error in the protocol's form. The shared runner (graveyard-conformance) parses and matches
the scenarios; test_conformance.py runs it over this program.

    python conformance_executor.py                   every scenario on an embedded store (Client)
    python conformance_executor.py --async           the same through AsyncClient
    python conformance_executor.py --node BIN        on one real node (BIN: ``graveyard``)
    python conformance_executor.py --async --node BIN

Embedded stores are opened without fsync in a fresh temporary directory. With --node, each
scenario starts ``BIN serve`` on a free loopback port and reaches it with graveyard.connect;
``reopen`` stops it with SIGTERM and starts it again on the same data. With --async every call
of the SDK is awaited, in one asyncio loop for the whole run; without it the blocking forms are
called (from that loop's thread, which they block: nothing else runs meanwhile).

Logs go to stderr: stdout carries the answers only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, Union

import graveyard
from graveyard import (
    CAUGHT_UP,
    ENDED,
    TIMEOUT,
    After,
    AllTarget,
    AsyncClient,
    AsyncGroupMember,
    AsyncSubscription,
    Client,
    Direction,
    EventData,
    ExpectedVersion,
    Filter,
    GraveyardError,
    GroupDelivery,
    GroupInfo,
    GroupMember,
    GroupSettings,
    GroupStrategy,
    GroupTarget,
    RecordedEvent,
    RegisteredSchema,
    StreamMetadata,
    StreamTarget,
    Subscription,
    SubscriptionStart,
)

T = TypeVar("T")
Json = dict[str, Any]

U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF

START_TIMEOUT = 30.0
"""Seconds a node may take to answer after its start, and to exit after SIGTERM."""


class UnexpressibleError(Exception):
    """A value the scenario wrote that the SDK's types cannot carry: INVALID_ARGUMENT, as a user is refused it."""


class ExecutorError(Exception):
    """A request this executor cannot run at all (a protocol error, an executor bug): a ``fail`` answer."""


def log(text: str) -> None:
    print(f"py executor: {text}", file=sys.stderr, flush=True)


AnyClient = Union[Client, AsyncClient]
AnySubscription = Union[Subscription, AsyncSubscription]
AnyMember = Union[GroupMember, AsyncGroupMember]


@dataclass
class Session:
    """A subscription or a member, under the name the scenario gave it."""

    sub: AnySubscription | None = None
    member: AnyMember | None = None
    cancelled: bool = False
    """The executor cancelled it: its end is ``ended``, not a failure."""

    def close(self) -> None:
        # cancel() ends the session's waits for good (a member leaves its group); both forms
        # have it as a plain call.
        if self.sub is not None:
            self.sub.cancel()
        if self.member is not None:
            self.member.cancel()


# ---- one real node -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One ``graveyard serve`` with its data in the scenario's directory, on a loopback port chosen
    at its first start and kept across restarts."""

    def __init__(self, binary: str, folder: Path, args: list[str]) -> None:
        self.binary, self.dir, self.args = binary, folder, args
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            text = (self.dir / "node.log").read_text(errors="replace")
        except OSError as e:
            return f"(unreadable: {e})"
        return text if len(text) <= 2000 else f"...{text[-2000:]}"

    def start(self) -> None:
        """Starts the process (again), on the port of its first start."""
        # The flags are the whole configuration: no GRAVEYARD_* variable of the caller's leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRAVEYARD_")}
        command = [
            self.binary,
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data",
            str(self.dir / "data"),
            *self.args,
        ]
        with open(self.dir / "node.log", "ab") as out:
            try:
                self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            except OSError as e:
                raise ExecutorError(f"cannot start the node {self.binary}: {e}") from None

    async def wait_ready(self) -> None:
        """Waits until the node accepts connections (it may still be starting); its log on failure."""
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise ExecutorError(f"the node exited (status {code}); its log: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                return
            except OSError as e:
                last = e
            await asyncio.sleep(0.05)
        raise ExecutorError(
            f"the node on {self.url} did not answer within {START_TIMEOUT} s: {last}; its log: {self.log()}"
        )

    async def first_start(self) -> None:
        """Starts it on a free port; on another one when a process took that port meanwhile."""
        for attempt in range(5):
            self.port = free_port()
            self.start()
            try:
                await self.wait_ready()
                return
            except ExecutorError as e:
                if attempt == 4 or "cannot listen" not in str(e):
                    raise

    async def stop(self) -> None:
        """SIGTERM (it shuts down cleanly), SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if process.poll() is None:
            process.kill()
            process.wait()
            raise ExecutorError(f"the node did not stop within {START_TIMEOUT} s of SIGTERM")


# ---- the scenario being run ----------------------------------------------------------------------


@dataclass
class Scenario:
    dir: Path
    open_options: dict[str, Any] = field(default_factory=dict)
    """The keyword arguments of graveyard.open (embedded), to open the store again with."""
    node: Node | None = None
    client: AnyClient | None = None
    sessions: dict[str, Session] = field(default_factory=dict)

    def close_sessions(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()

    def session(self, name: object) -> Session:
        s = self.sessions.get(text(name, "session"))
        if s is None:
            raise ExecutorError(f"no session {name!r} is open")
        return s

    def keep(self, name: object, s: Session) -> None:
        """Keeps a new session under its name (closing one left under it, which the runner never does)."""
        key = text(name, "session")
        old = self.sessions.get(key)
        if old is not None:
            old.close()
        self.sessions[key] = s


class Executor:
    def __init__(self, use_async: bool, node_binary: str | None) -> None:
        self.use_async = use_async
        self.node_binary = node_binary
        self.scenario: Scenario | None = None
        self.ops: dict[str, Callable[[Scenario, AnyClient, Json], Awaitable[Json]]] = {
            "append": self.op_append,
            "read_stream": self.op_read_stream,
            "read_all": self.op_read_all,
            "stream_info": self.op_stream_info,
            "set_stream_metadata": self.op_set_stream_metadata,
            "get_stream_metadata": self.op_get_stream_metadata,
            "delete_stream": self.op_delete_stream,
            "tombstone_stream": self.op_tombstone_stream,
            "shred_stream": self.op_shred_stream,
            "save_snapshot": self.op_save_snapshot,
            "get_snapshot": self.op_get_snapshot,
            "head_position": self.op_head_position,
            "upsert_schema": self.op_upsert_schema,
            "get_schema": self.op_get_schema,
            "list_schemas": self.op_list_schemas,
            "close": self.op_close,
            "reopen": self.op_reopen,
            "subscribe_to_stream": self.op_subscribe_to_stream,
            "subscribe_to_all": self.op_subscribe_to_all,
            "create_group": self.op_create_group,
            "update_group": self.op_update_group,
            "delete_group": self.op_delete_group,
            "group_info": self.op_group_info,
            "list_groups": self.op_list_groups,
            "replay_parked": self.op_replay_parked,
            "join_group": self.op_join_group,
            "next": self.op_next,
            "ack": self.op_ack,
            "nack": self.op_nack,
            "cancel": self.op_cancel,
            "close_session": self.op_close_session,
        }

    async def settle(self, value: Awaitable[T] | T) -> T:
        """The result of a call of the SDK: with --async a coroutine, awaited; else the value the
        blocking call returned. Either form giving the other's is an SDK bug, never run anyway."""
        if inspect.isawaitable(value):
            if self.use_async:
                return await value
            if inspect.iscoroutine(value):
                value.close()
            raise ExecutorError(f"a call of the blocking form returned an awaitable {type(value).__name__}")
        if self.use_async:
            raise ExecutorError(f"a call of the async form returned {type(value).__name__}, not a coroutine")
        return value

    # ---- the conversation ---------------------------------------------------------------------

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
        try:
            while True:
                # A thread reads, so that the loop runs meanwhile (it has nothing to run between
                # requests, but nothing of it ever waits on stdin).
                line = await loop.run_in_executor(None, stdin.readline)
                if not line:
                    break  # the runner closed stdin: the run is over
                if not line.strip():
                    continue
                answer = await self.answer(line)
                try:
                    # ASCII (escapes for the rest): one line, whatever the strings hold.
                    out = json.dumps(answer, separators=(",", ":"))
                except (TypeError, ValueError) as e:
                    out = json.dumps({"fail": f"cannot write the answer: {e}"})
                stdout.write(out.encode() + b"\n")
                stdout.flush()
        finally:
            await self.end()

    async def answer(self, line: bytes) -> Json:
        try:
            r = json.loads(line)
            if not isinstance(r, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return {"fail": f"the request is not one this executor reads: {e}"}
        op = r.get("op")
        try:
            return {"ok": await self.run(r)}
        except GraveyardError as e:
            return {"error": {**(e.details() or {}), "code": e.code, "message": str(e.message or e)}}
        except UnexpressibleError as e:
            return {"error": {"code": "INVALID_ARGUMENT", "message": f"refused by the Python SDK's types: {e}"}}
        except Exception as e:
            # A failure of this executor, or an error of the SDK without a code (which the SDK
            # must never raise from a call of the store).
            log(f"{op}: {''.join(traceback.format_exception(e))}")
            return {"fail": f"{op}: {type(e).__name__}: {e}"}

    async def run(self, r: Json) -> Json:
        op = r.get("op")
        if op == "begin":
            await self.end()
            await self.begin(r)
            return {}
        if op == "end":
            await self.end()
            return {}
        if self.scenario is None:
            raise ExecutorError('no scenario is open ("begin" first)')
        return await self.step(self.scenario, r)

    async def begin(self, r: Json) -> None:
        folder = Path(tempfile.mkdtemp(prefix="graveyard-conformance-py-"))
        sc = Scenario(folder)
        self.scenario = sc  # so that end removes the directory whatever happens next
        options = record(r.get("options"), "options")
        max_event_size = (
            None if options.get("max_event_size") is None else u64(options["max_event_size"], "max_event_size")
        )
        key: bytes | None = None
        if options.get("master_key") is not None:
            hex_key = text(options["master_key"], "master_key")
            if re.fullmatch(r"[0-9a-fA-F]{64}", hex_key) is None:
                raise ExecutorError(f"the master key is not 64 hex digits: {hex_key!r}")
            key = bytes.fromhex(hex_key)
        if self.node_binary is not None:
            args: list[str] = []
            if max_event_size is not None:
                args += ["--max-event-size", str(max_event_size)]
            if key is not None:
                # Beside (not inside) the node's data directory; the node reads 64 hex digits.
                key_file = folder / "master.key"
                key_file.write_text(key.hex())
                key_file.chmod(0o600)
                args += ["--master-key-file", str(key_file)]
            sc.node = Node(self.node_binary, folder, args)
            await sc.node.first_start()
            sc.client = await self.connect(sc.node)
            return
        # No scenario depends on fsync (conformance/README.md, "Running a scenario").
        sc.open_options = {"durability": "none", "max_event_size": max_event_size, "master_key": key}
        sc.client = await self.open(sc)

    async def open(self, sc: Scenario) -> AnyClient:
        path = str(sc.dir / "store")
        if self.use_async:
            return await graveyard.open_async(path, **sc.open_options)
        return graveyard.open(path, **sc.open_options)

    async def connect(self, node: Node) -> AnyClient:
        if self.use_async:
            return await graveyard.connect_async(node.url, connect_timeout=5.0)
        return graveyard.connect(node.url, connect_timeout=5.0)

    async def end(self) -> None:
        """Ends the scenario being run: its sessions, its client, its node, its directory."""
        sc, self.scenario = self.scenario, None
        if sc is None:
            return
        sc.close_sessions()
        if sc.client is not None:
            try:
                await self.settle(sc.client.close())
            except Exception as e:
                log(f"closing the client: {e!r}")
        if sc.node is not None:
            try:
                await sc.node.stop()
            except Exception as e:
                log(str(e))
        shutil.rmtree(sc.dir, ignore_errors=True)

    async def reopen(self, sc: Scenario) -> None:
        """Drops every session, closes the store and opens the same data again (restarts the node)."""
        sc.close_sessions()
        client, sc.client = sc.client, None  # later steps fail as a fail answer, not on a stale client
        if client is not None:
            await self.settle(client.close())
        try:
            if sc.node is not None:
                await sc.node.stop()
                sc.node.start()
                await sc.node.wait_ready()
                sc.client = await self.connect(sc.node)
            else:
                sc.client = await self.open(sc)
        except Exception as e:
            raise ExecutorError(f"cannot open the store again: {e!r}") from None

    # ---- the operations -------------------------------------------------------------------------

    async def step(self, sc: Scenario, r: Json) -> Json:
        op = r.get("op")
        run = self.ops.get(op) if isinstance(op, str) else None
        if run is None:
            raise ExecutorError(f"unknown op {op!r}")
        c = sc.client
        if c is None:
            raise ExecutorError("the store could not be opened again")
        return await run(sc, c, r)

    async def op_append(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        stream, expected = text(r.get("stream"), "stream"), expected_version(r.get("expected_version"))
        events = [event_arg(record(e, "event")) for e in array(r.get("events"), "events")]
        res = await self.settle(c.append(stream, events, expected_version=expected))
        return {
            "first_revision": res.first_revision,
            "last_revision": res.last_revision,
            "first_position": res.first_position,
            "last_position": res.last_position,
        }

    async def op_read_stream(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        # The page forms: the iterators read a stream without visible events as empty, where the
        # scenarios expect NOT_FOUND.
        direction, start, limit = read_args(r)
        stream = text(r.get("stream"), "stream")
        events = await self.settle(
            c.read_stream_page(stream, direction=direction, from_revision=start, max_count=limit)
        )
        return {"events": [event_json(e) for e in events]}

    async def op_read_all(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        direction, start, limit = read_args(r)
        read_filter = None if r.get("filter") is None else filter_arg(r["filter"])
        events = await self.settle(
            c.read_all_page(direction=direction, from_position=start, max_count=limit, filter=read_filter)
        )
        return {"events": [event_json(e) for e in events]}

    async def op_stream_info(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        info = await self.settle(c.stream_info(text(r.get("stream"), "stream")))
        return {
            "current": info.current,
            "next_revision": info.next_revision,
            "deleted": info.deleted,
            "shredded": info.shredded,
            "metadata": metadata_json(info.metadata),
        }

    async def op_set_stream_metadata(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        await self.settle(c.set_stream_metadata(text(r.get("stream"), "stream"), metadata_arg(r.get("metadata"))))
        return {}

    async def op_get_stream_metadata(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        return metadata_json(await self.settle(c.get_stream_metadata(text(r.get("stream"), "stream"))))

    async def op_delete_stream(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        stream, expected = text(r.get("stream"), "stream"), expected_version(r.get("expected_version"))
        await self.settle(c.delete_stream(stream, expected_version=expected))
        return {}

    async def op_tombstone_stream(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        stream, expected = text(r.get("stream"), "stream"), expected_version(r.get("expected_version"))
        await self.settle(c.tombstone_stream(stream, expected_version=expected))
        return {}

    async def op_shred_stream(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        await self.settle(c.shred_stream(text(r.get("stream"), "stream")))
        return {}

    async def op_save_snapshot(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        stream, revision, data = (
            text(r.get("stream"), "stream"),
            u64(r.get("revision"), "revision"),
            b64(r.get("data"), "data"),
        )
        await self.settle(c.save_snapshot(stream, revision, data))
        return {}

    async def op_get_snapshot(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        s = await self.settle(c.get_snapshot(text(r.get("stream"), "stream")))
        if s is None:
            return {"snapshot": None}
        return {
            "snapshot": {
                "stream": s.stream,
                "revision": s.revision,
                "data": base64.b64encode(s.data).decode(),
                "timestamp": s.timestamp_micros,
            }
        }

    async def op_head_position(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        return {"head_position": await self.settle(c.head_position())}

    async def op_upsert_schema(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        # The definition as the scenario wrote it, as JSON text: the core refuses what is wrong.
        u = await self.settle(c.upsert_schema(json.dumps(r.get("schema"))))
        return {"name": u.name, "version": u.version, "changed": u.changed}

    async def op_get_schema(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        version: int | None = None
        if r.get("version") is not None:
            version = u64(r["version"], "version")
            if version > U32_MAX:
                raise UnexpressibleError(f"schema version {version}: get_schema's version is a u32")
        return schema_json(await self.settle(c.get_schema(text(r.get("name"), "name"), version)))

    async def op_list_schemas(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        return {"schemas": [schema_json(s) for s in await self.settle(c.list_schemas())]}

    async def op_close(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        # The sessions stay, and fail like the store.
        await self.settle(c.close())
        return {}

    async def op_reopen(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        await self.reopen(sc)
        return {}

    async def op_subscribe_to_stream(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        stream, start, page_size = text(r.get("stream"), "stream"), start_arg(r.get("start")), page_size_arg(r)
        sub: AnySubscription = await self.settle(c.subscribe_to_stream(stream, start=start, page_size=page_size))
        sc.keep(r.get("session"), Session(sub=sub))
        return {}

    async def op_subscribe_to_all(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        start, page_size = start_arg(r.get("start")), page_size_arg(r)
        sub_filter = None if r.get("filter") is None else filter_arg(r["filter"])
        sub: AnySubscription = await self.settle(
            c.subscribe_to_all(start=start, filter=sub_filter, page_size=page_size)
        )
        sc.keep(r.get("session"), Session(sub=sub))
        return {}

    async def op_create_group(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        group, target = text(r.get("group"), "group"), target_arg(r.get("target"))
        start, settings = start_arg(r.get("start")), settings_arg(r.get("settings"))
        return group_json(await self.settle(c.create_group(group, target, start=start, settings=settings)))

    async def op_update_group(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        group, settings = text(r.get("group"), "group"), settings_arg(r.get("settings"))
        return group_json(await self.settle(c.update_group(group, settings)))

    async def op_delete_group(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        await self.settle(c.delete_group(text(r.get("group"), "group")))
        return {}

    async def op_group_info(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        return group_json(await self.settle(c.group_info(text(r.get("group"), "group"))))

    async def op_list_groups(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        return {"groups": list(await self.settle(c.list_groups()))}

    async def op_replay_parked(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        limit = None if r.get("limit") is None else u64(r["limit"], "limit")
        info = await self.settle(c.replay_parked(text(r.get("group"), "group"), limit=limit))
        return {"from": info.from_, "to": info.to, "parked": info.parked, "replaying": info.replaying}

    async def op_join_group(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        member: AnyMember = await self.settle(
            c.join_group(text(r.get("group"), "group"), text(r.get("member"), "member"))
        )
        sc.keep(r.get("session"), Session(member=member))
        return {}

    async def op_next(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        return await self.next_message(sc.session(r.get("session")), u64(r.get("timeout_ms"), "timeout_ms"))

    async def op_ack(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        member, ids = member_of(sc, r), delivery_ids(r)
        await self.settle(member.ack(ids))
        return {}

    async def op_nack(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        member, ids, action = member_of(sc, r), delivery_ids(r), r.get("action")
        if action not in ("retry", "park", "skip"):
            raise ExecutorError(f"unknown nack action {action!r}")
        await self.settle(member.nack(ids, action))
        return {}

    async def op_cancel(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        # cancel() ends the session's waits for good; its next poll then says ENDED.
        s = sc.session(r.get("session"))
        s.cancelled = True
        s.close()
        return {}

    async def op_close_session(self, sc: Scenario, c: AnyClient, r: Json) -> Json:
        sc.session(r.get("session")).close()
        del sc.sessions[text(r.get("session"), "session")]
        return {}

    async def next_message(self, s: Session, timeout_ms: int) -> Json:
        """The session's next message, waiting at most ``timeout_ms``."""
        timeout = timeout_ms / 1000
        if s.sub is not None:
            m = await self.settle(s.sub.poll(timeout))
            if m is TIMEOUT:
                return {"timeout": True}
            if m is ENDED:
                return self.ended_of(s)
            if m is CAUGHT_UP:
                return {"caught_up": True}
            if not isinstance(m, RecordedEvent):
                raise ExecutorError(f"the subscription handed out {m!r}, neither an event nor CAUGHT_UP")
            return {"event": event_json(m)}
        if s.member is None:
            raise ExecutorError("a session that is neither a subscription nor a member")
        d = await self.settle(s.member.poll(timeout))
        if d is TIMEOUT:
            return {"timeout": True}
        if d is ENDED:
            return self.ended_of(s)
        if not isinstance(d, GroupDelivery):
            raise ExecutorError(f"the member handed out {d!r}, not a GroupDelivery")
        return {
            "delivery": {
                # A string: ids use all 64 bits, beyond what every JSON reader keeps.
                "id": str(d.id),
                "attempt": d.attempt,
                "parked_revision": d.parked_revision,
                "event": event_json(d.event),
            }
        }

    @staticmethod
    def ended_of(s: Session) -> Json:
        """The end of a session the executor cancelled is ``ended``; one the SDK ended on its own is a fail."""
        if s.cancelled:
            return {"ended": True}
        raise ExecutorError("the session ended though nobody cancelled it")


# ---- arguments: the protocol's JSON forms to the SDK's types -----------------------------------


def read_args(r: Json) -> tuple[Direction, int | None, int | None]:
    """The direction, the start (a revision or a position) and the limit of a read."""
    direction = r.get("direction")
    if direction == "forwards":
        d: Direction = "forwards"
    elif direction == "backwards":
        d = "backwards"
    else:
        raise ExecutorError(f"unknown direction {direction!r}")
    start = None if r.get("from") is None else u64(r["from"], "from")
    limit = None if r.get("limit") is None else u64(r["limit"], "limit")
    return d, start, limit


def page_size_arg(r: Json) -> int | None:
    if r.get("page_size") is None:
        return None
    n = u64(r["page_size"], "page_size")
    # The SDK reads a page_size of None as "the store's default": it cannot ask for 0.
    if n == 0 or n > U32_MAX:
        raise UnexpressibleError(f"page size {n}: page_size is from 1 to 2**32-1 (None: the default)")
    return n


def member_of(sc: Scenario, r: Json) -> AnyMember:
    s = sc.session(r.get("session"))
    if s.member is None:
        raise ExecutorError(f"{r.get('op')} names a subscription, not a member")
    return s.member


def delivery_ids(r: Json) -> list[int]:
    """The ids as the SDK takes them (ints). A string that is not one is an id this executor never
    handed out: the SDK is asked with one it never handed out either, as the reference executor
    does."""
    ids = []
    for d in array(r.get("deliveries"), "deliveries"):
        s = text(d, "delivery id")
        ids.append(int(s) if re.fullmatch(r"[0-9]{1,20}", s) is not None and int(s) <= U64_MAX else U64_MAX)
    return ids


def expected_version(v: object) -> ExpectedVersion:
    if v == "any":
        return "any"
    if v == "no_stream":
        return "no_stream"
    if v == "stream_exists":
        return "stream_exists"
    if isinstance(v, dict) and len(v) == 1 and "exact" in v:
        return u64(v["exact"], "expected_version.exact")
    raise ExecutorError(f"expected_version: {json.dumps(v)}")


def event_arg(e: Json) -> EventData:
    # Every field as the request has it: the content type chosen by the runner, bytes as bytes.
    return EventData(
        type=text(e.get("type"), "type"),
        data=b64(e.get("data"), "data"),
        metadata=b64(e.get("metadata"), "metadata"),
        content_type=text(e.get("content_type"), "content_type"),
        id=None if e.get("id") is None else text(e["id"], "id"),
    )


def start_arg(v: object) -> SubscriptionStart:
    if v == "start":
        return "start"
    if v == "end":
        return "end"
    if isinstance(v, dict) and len(v) == 1 and "after" in v:
        return After(u64(v["after"], "start.after"))
    raise ExecutorError(f"unknown start {json.dumps(v)}")


def strings(v: object, what: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise UnexpressibleError(f"{what} is a list of strings, not {json.dumps(v)}")
    return v


def filter_arg(v: object) -> Filter:
    """A filter as the scenario wrote it: only the two lists, each of strings."""
    if not isinstance(v, dict):
        raise UnexpressibleError(f"a filter is an object, not {json.dumps(v)}")
    for k in v:
        if k not in ("stream_prefixes", "event_types"):
            raise UnexpressibleError(f"a Filter has no {k}")
    return Filter(
        stream_prefixes=strings(v.get("stream_prefixes", []), "filter.stream_prefixes"),
        event_types=strings(v.get("event_types", []), "filter.event_types"),
    )


def target_arg(v: object) -> GroupTarget:
    """``{"stream": name}`` or ``{"all": filter}``, as the scenario wrote it."""
    if isinstance(v, dict) and len(v) == 1:
        if "stream" in v:
            if not isinstance(v["stream"], str):
                raise UnexpressibleError(f"a target stream is a str, not {json.dumps(v['stream'])}")
            return StreamTarget(v["stream"])
        if "all" in v:
            return AllTarget(filter_arg(v["all"]))
    raise UnexpressibleError(f'a group target is {{"stream": name}} or {{"all": filter}}, not {json.dumps(v)}')


def int_in(what: str, v: object, most: int) -> int:
    """A JSON integer in 0..=most, the range of the SDK's field it goes to (bool is no integer)."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= most:
        raise UnexpressibleError(f"{what} is an int from 0 to {most}, not {json.dumps(v)}")
    return v


def millis_arg(what: str, v: object) -> timedelta:
    """A number of milliseconds as the timedelta the SDK takes; beyond timedelta's range it cannot be given."""
    ms = int_in(what, v, U64_MAX)
    try:
        return timedelta(milliseconds=ms)
    except OverflowError:
        raise UnexpressibleError(f"{what} {ms} is beyond datetime.timedelta's range") from None


STRATEGIES: dict[object, GroupStrategy] = {"round_robin": "round_robin", "pinned_by_stream": "pinned_by_stream"}


def settings_arg(v: object) -> GroupSettings:
    """Group settings as the scenario wrote them; what is left out takes the store's default."""
    if not isinstance(v, dict):
        raise UnexpressibleError(f"group settings are an object, not {json.dumps(v)}")
    max_retries: int | None = None
    ack_timeout: timedelta | None = None
    max_in_flight: int | None = None
    strategy: GroupStrategy | None = None
    for k, value in v.items():
        if k == "max_retries":
            max_retries = int_in(k, value, U32_MAX)
        elif k == "ack_timeout_ms":
            ack_timeout = millis_arg(k, value)
        elif k == "max_in_flight":
            max_in_flight = int_in(k, value, U32_MAX)
        elif k == "strategy":
            strategy = STRATEGIES.get(value) if isinstance(value, str) else None
            if strategy is None:
                raise UnexpressibleError(
                    f'strategy is "round_robin" or "pinned_by_stream" (GroupStrategy), not {json.dumps(value)}'
                )
        else:
            raise UnexpressibleError(f"GroupSettings has no {k}")
    try:
        return GroupSettings(
            max_retries=max_retries, ack_timeout=ack_timeout, max_in_flight=max_in_flight, strategy=strategy
        )
    except (TypeError, ValueError) as e:
        raise UnexpressibleError(f"GroupSettings: {e}") from None


def metadata_arg(v: object) -> StreamMetadata:
    m = record(v, "metadata")
    max_age = None if m.get("max_age_ms") is None else millis_arg("max_age_ms", m["max_age_ms"])
    return StreamMetadata(
        max_count=None if m.get("max_count") is None else u64(m["max_count"], "max_count"),
        max_age=max_age,
        truncate_before=None if m.get("truncate_before") is None else u64(m["truncate_before"], "truncate_before"),
    )


# ---- results: the SDK's types to the protocol's JSON forms -------------------------------------


def millis_json(d: timedelta) -> int:
    """A duration in whole milliseconds, rounded up (docs/boundary.md, "JSON")."""
    micros = d // timedelta(microseconds=1)
    return -(-micros // 1000)


def event_json(e: RecordedEvent) -> Json:
    return {
        "stream": e.stream,
        "revision": e.revision,
        "position": e.position,
        "id": str(e.id),
        "type": e.type,
        "content_type": e.content_type,
        "data": base64.b64encode(e.data).decode(),
        "metadata": base64.b64encode(e.metadata).decode(),
        "timestamp": e.timestamp_micros,
        "shredded": e.shredded,
        "schema_version": e.schema_version,
    }


def metadata_json(m: StreamMetadata) -> Json:
    return {
        "max_count": m.max_count,
        "max_age_ms": None if m.max_age is None else millis_json(m.max_age),
        "truncate_before": m.truncate_before,
    }


def schema_json(s: RegisteredSchema) -> Json:
    return {"name": s.name, "version": s.version, "schema": s.schema}


def filter_json(f: Filter) -> Json:
    return {"stream_prefixes": list(f.stream_prefixes), "event_types": list(f.event_types)}


def group_json(g: GroupInfo) -> Json:
    target: Json = (
        {"stream": g.target.stream} if isinstance(g.target, StreamTarget) else {"all": filter_json(g.target.filter)}
    )
    s = g.settings
    return {
        "name": g.name,
        "target": target,
        "settings": {
            # None (null) would be an SDK bug, kept visible: the core's settings have every field.
            "max_retries": s.max_retries,
            "ack_timeout_ms": None if s.ack_timeout is None else millis_json(s.ack_timeout),
            "max_in_flight": s.max_in_flight,
            "strategy": s.strategy,
        },
        "checkpoint": g.checkpoint,
        "lag": g.lag,
        "members": list(g.members),
        "in_flight": g.in_flight,
        "buffered": g.buffered,
        "parked_stream": g.parked_stream,
        "parked": g.parked,
        "replaying": g.replaying,
    }


# ---- readers of the request's JSON ---------------------------------------------------------------


def record(v: object, what: str) -> Json:
    if not isinstance(v, dict):
        raise ExecutorError(f"{what} is not an object")
    return v


def array(v: object, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise ExecutorError(f"{what} is not a list")
    return v


def text(v: object, what: str) -> str:
    if not isinstance(v, str):
        raise ExecutorError(f"{what} is not a string")
    return v


def u64(v: object, what: str) -> int:
    """A JSON integer 0..2**64-1 (json.loads keeps integers exact)."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= U64_MAX:
        raise ExecutorError(f"{what} is not an unsigned 64-bit integer: {v!r}")
    return v


def b64(v: object, what: str) -> bytes:
    try:
        return base64.b64decode(text(v, what), validate=True)
    except binascii.Error as e:
        raise ExecutorError(f"{what} is not base64: {e}") from None


def main(argv: list[str]) -> int:
    use_async = False
    node_binary: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--async":
            use_async = True
        elif arg == "--node" and args:
            node_binary = args.pop(0)
        else:
            print("usage: conformance_executor.py [--async] [--node <path of the graveyard binary>]", file=sys.stderr)
            return 2
    asyncio.run(Executor(use_async, node_binary).main())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
