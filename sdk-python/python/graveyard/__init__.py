"""GraveyardDB for Python: an event store, embedded (``graveyard.open``) or as a cluster
(``graveyard.connect``), with blocking and asyncio clients, schemas from dataclasses and Pydantic
models, encryption and crypto-shredding. See the package's README."""

from __future__ import annotations

from . import _native
from ._client import (
    DEFAULT_PAGE,
    AsyncClient,
    AsyncEventPages,
    Client,
    EventData,
    EventPages,
    connect,
    connect_async,
    open,
    open_async,
)
from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._model import *  # noqa: F403
from ._model import __all__ as _model_all
from ._packed import CAUGHT_UP, CaughtUp, Page, RecordedEvent, SubscriptionMessage
from ._schema import *  # noqa: F403
from ._schema import __all__ as _schema_all
from ._sessions import (
    ENDED,
    TIMEOUT,
    AsyncGroupMember,
    AsyncSubscription,
    GroupDelivery,
    GroupMember,
    Poll,
    Subscription,
)


def native_version() -> str:
    """The version of GraveyardDB the native module was built from."""
    return str(_native.version())


__all__ = [  # noqa: PLE0604 - the submodules' lists, spelled out once there
    "CAUGHT_UP",
    "DEFAULT_PAGE",
    "ENDED",
    "TIMEOUT",
    "AsyncClient",
    "AsyncEventPages",
    "AsyncGroupMember",
    "AsyncSubscription",
    "CaughtUp",
    "Client",
    "EventData",
    "EventPages",
    "GroupDelivery",
    "GroupMember",
    "Page",
    "Poll",
    "RecordedEvent",
    "Subscription",
    "SubscriptionMessage",
    "connect",
    "connect_async",
    "native_version",
    "open",
    "open_async",
    *_errors_all,
    *_model_all,
    *_schema_all,
]
