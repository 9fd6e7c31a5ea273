"""Online feature vectors by feature service, bounded in time, with clear errors.

Unknown entities come back as nulls (Feast's behaviour, kept). Every read has a deadline of
``settings.online_read_timeout_ms`` (also the Redis socket timeouts, see ``config``); if the online
store is unreachable or slow the caller gets :class:`OnlineStoreUnavailable` naming the store, not a
hanging request or a bare driver stack trace.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import weakref
from typing import Any

from riskpipe.features.config import DEFAULT_PROJECT
from riskpipe.features.store import FeatureStoreError, feature_service, get_store
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)

_pool = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="riskpipe-online")
#: The first read of a store loads the registry, Feast's lazy imports and the on-demand UDFs (~2 s);
#: it is done once per (store, service) with a dummy entity, under this longer bound.
WARM_UP_SECONDS = 60.0
_warm: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


class OnlineStoreUnavailable(FeatureStoreError):
    """The online store did not answer (down, unreachable, or slower than the read bound)."""

    exit_code = 3


def _where(store) -> str:
    online = store.config.online_store
    conn = getattr(online, "connection_string", None)
    return f"{online.type} at {conn.split(',')[0]}" if conn else f"{online.type} at {getattr(online, 'path', '?')}"


def online_features(
    service_name: str,
    entity_rows: list[dict[str, Any]],
    *,
    settings: Settings | None = None,
    store=None,
    project: str = DEFAULT_PROJECT,
    timeout_ms: int | None = None,
) -> dict[str, list[Any]]:
    """Feature vectors for ``entity_rows`` (join keys + request fields): column name -> values."""
    settings = settings or get_settings()
    store = store or get_store(settings, project=project)
    service = feature_service(store, service_name)  # registry read, outside the read bound
    bound = (timeout_ms or settings.online_read_timeout_ms) / 1000.0
    warmed = _warm.setdefault(store, set())
    if service_name not in warmed:
        _read(store, service, service_name, [_dummy_row(store, service)], WARM_UP_SECONDS)
        warmed.add(service_name)
    return _read(store, service, service_name, entity_rows, bound)


def _dummy_row(store, service) -> dict[str, Any]:
    """An entity row no real entity matches, with a zero for every request field."""
    from feast.types import Float32, Float64, String

    row: dict[str, Any] = {}
    for proj in service.feature_view_projections:
        try:
            fv = store.get_feature_view(proj.name)
            row.update({k: "__riskpipe_warm_up__" for k in fv.join_keys})
        except Exception:
            odfv = store.get_on_demand_feature_view(proj.name)
            for rs in odfv.source_request_sources.values():
                for f in rs.schema:
                    row[f.name] = "" if f.dtype == String else 0.0 if f.dtype in (Float32, Float64) else 0
    return row


def _read(store, service, service_name: str, entity_rows: list[dict[str, Any]], bound: float):
    future = _pool.submit(store.get_online_features, features=service, entity_rows=entity_rows)
    try:
        response = future.result(timeout=bound)
    except cf.TimeoutError:
        future.cancel()
        raise OnlineStoreUnavailable(
            f"online read for {service_name} exceeded {bound * 1000:.0f} ms ({_where(store)})") from None
    except FeatureStoreError:
        raise
    except Exception as err:
        if _is_connection_error(err):
            raise OnlineStoreUnavailable(
                f"online store unavailable for {service_name}: {_where(store)}: {type(err).__name__}: {err}"
            ) from err
        raise
    return response.to_dict()


def _is_connection_error(err: BaseException) -> bool:
    import sqlite3

    try:
        import redis.exceptions as rex

        kinds: tuple[type[BaseException], ...] = (rex.ConnectionError, rex.TimeoutError, sqlite3.OperationalError,
                                                  ConnectionError, TimeoutError)
    except ImportError:  # pragma: no cover - redis is a dependency
        kinds = (sqlite3.OperationalError, ConnectionError, TimeoutError)
    e: BaseException | None = err
    while e is not None:
        if isinstance(e, kinds):
            return True
        e = e.__cause__ or e.__context__
    return False
