"""``get_store(settings)``: a Feast ``FeatureStore`` over the repo definitions, configured in code.

The definitions live once, in ``feature_repo/`` (split by kind, as the ``feast`` CLI expects);
:func:`load_definitions` imports those files with the given settings in force, so the sources point
at ``settings.features`` and use the configured offline store. No ``feature_store.yaml`` is needed
in-process; ``riskpipe feast-config`` writes one for the CLI from the same settings.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskpipe.errors import ConfigError, RiskpipeError
from riskpipe.features.config import DEFAULT_PROJECT, DEFAULT_REPO_PATH, repo_config, using_settings
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Repo files in import order (later files import earlier ones by module name, as under ``feast``).
REPO_MODULES = ("entities", "data_sources", "feature_views", "on_demand", "feature_services")
_load_lock = threading.Lock()


class FeatureStoreError(RiskpipeError):
    """A feature store operation failed for a reason a person can act on."""


@dataclass
class Definitions:
    """Every Feast object declared in the repo."""

    entities: list[Any] = field(default_factory=list)
    data_sources: list[Any] = field(default_factory=list)
    feature_views: list[Any] = field(default_factory=list)
    on_demand_feature_views: list[Any] = field(default_factory=list)
    feature_services: list[Any] = field(default_factory=list)

    def objects(self) -> list[Any]:
        return [*self.entities, *self.data_sources, *self.feature_views,
                *self.on_demand_feature_views, *self.feature_services]


def load_definitions(settings: Settings | None = None, repo_path: Path | None = None) -> Definitions:
    """Import the repo files with ``settings`` in force and collect their Feast objects."""
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource, RequestSource
    from feast.on_demand_feature_view import OnDemandFeatureView

    settings = settings or get_settings()
    repo = Path(repo_path or DEFAULT_REPO_PATH).resolve()
    if not (repo / "feature_views.py").is_file():
        raise ConfigError(f"no Feast repo at {repo} (expected {', '.join(m + '.py' for m in REPO_MODULES)})")
    defs = Definitions()
    seen: set[int] = set()
    with _load_lock, using_settings(settings):
        saved = {m: sys.modules.pop(m) for m in REPO_MODULES if m in sys.modules}
        sys.path.insert(0, str(repo))
        try:
            for name in REPO_MODULES:
                module = importlib.import_module(name)
                for attr in sorted(vars(module)):
                    obj = getattr(module, attr)
                    if id(obj) in seen:
                        continue
                    if isinstance(obj, Entity):
                        defs.entities.append(obj)
                    elif isinstance(obj, DataSource) and not isinstance(obj, RequestSource):
                        defs.data_sources.append(obj)
                    elif isinstance(obj, OnDemandFeatureView):
                        defs.on_demand_feature_views.append(obj)
                    elif isinstance(obj, FeatureView):
                        defs.feature_views.append(obj)
                    elif isinstance(obj, FeatureService):
                        defs.feature_services.append(obj)
                    else:
                        continue
                    seen.add(id(obj))
        finally:
            sys.path.remove(str(repo))
            for m in REPO_MODULES:
                sys.modules.pop(m, None)
            sys.modules.update(saved)
    return defs


def get_store(settings: Settings | None = None, *, project: str = DEFAULT_PROJECT,
              repo_path: Path | None = None, apply: bool = False):
    """A ``FeatureStore`` for these settings; ``apply=True`` also registers the definitions."""
    from feast import FeatureStore

    settings = settings or get_settings()
    store = FeatureStore(config=repo_config(settings, project, repo_path))
    if apply:
        apply_definitions(store, settings, repo_path=repo_path)
    return store


def apply_definitions(store, settings: Settings | None = None, *, repo_path: Path | None = None) -> Definitions:
    """Register (create or update) every repo object and create the online tables."""
    defs = load_definitions(settings, repo_path)
    try:
        store.apply(defs.objects())
    except Exception as err:  # surface service problems (PostgreSQL, Redis) as a clear message
        raise FeatureStoreError(f"feast apply failed for project {store.project!r}: {err}") from err
    _services.pop(store, None)
    log.info("applied %d feature views, %d on-demand views, %d services to project %s",
             len(defs.feature_views), len(defs.on_demand_feature_views), len(defs.feature_services),
             store.project)
    return defs


#: store -> {service name: (monotonic expiry, FeatureService)}. Feast rebuilds the service from its
#: protobuf on every lookup (~7 ms for credit_pd_v1), which an online read cannot afford each time.
_services: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
SERVICE_CACHE_SECONDS = 10.0


def feature_service(store, name: str):
    """The registered feature service ``name`` (cached per store for ``SERVICE_CACHE_SECONDS``, and
    dropped when this process applies definitions), or an error listing the ones that exist."""
    now = time.monotonic()
    cached = _services.get(store, {}).get(name)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        service = store.get_feature_service(name)
        _services.setdefault(store, {})[name] = (now + SERVICE_CACHE_SECONDS, service)
        return service
    except Exception:
        known = sorted(s.name for s in store.list_feature_services())
        raise ConfigError(f"unknown feature service {name!r}; registered: {', '.join(known) or 'none'} "
                          "(run `riskpipe feast-apply`)") from None


def service_views(store, service) -> tuple[list[Any], list[Any]]:
    """The (batch feature views, on-demand views) a feature service reads, as registered."""
    views, odfvs = [], []
    for proj in service.feature_view_projections:
        try:
            views.append((store.get_feature_view(proj.name), proj))
        except Exception:
            odfvs.append((store.get_on_demand_feature_view(proj.name), proj))
    return views, odfvs


def request_fields(odfvs: Iterable[Any]) -> list[str]:
    """The request-time fields (sorted) that on-demand feature views read from the request: for a
    service's views (:func:`service_views`), what an entity frame, a label table or a scoring request
    must carry."""
    return sorted({f.name for odfv in odfvs for rs in odfv.source_request_sources.values() for f in rs.schema})


def drop_project(store) -> None:
    """Remove one project's online data and registry entries, and nothing else.

    ``FeatureStore.teardown()`` deletes *every* project in the registry (Feast 0.67), which on a
    shared SQL registry would take other deployments with it; this only touches ``store.project``.
    """
    views = store.list_feature_views()
    entities = store.list_entities()
    store._get_provider().teardown_infra(store.project, views, entities)
    store.registry.delete_project(store.project, commit=True)
