"""Label definitions (``labels.yml``) as typed objects: the one place a label is defined.

The dbt label models read every parameter of a definition as a dbt var (:func:`dbt_vars`), and
training on the store keeps the rows the same definition calls matured and not excluded
(:func:`training_rows`), so the SQL that builds a label and the filter that trains on it cannot
drift apart. A trained model records the definition it used (:meth:`LabelDefinition.tags`):
name, version and a hash of its content, so an edit without a version bump is visible.

The shape of each label (which bad event, which exclusions) is implemented by its dbt model; the
file sets their parameters. A definition the SQL cannot honour is refused, never silently ignored.

The packaged ``labels.yml`` is in force unless ``RISKPIPE_LABELS_FILE`` names another file (a team's
own windows, or a time-compressed world's): it is validated by the same rules, read by the dbt build
and by training alike, and its content gives the hash, so a model trained under it says so.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riskpipe.errors import ConfigError
from riskpipe.features.tables import LABEL_TABLES

if TYPE_CHECKING:
    import pandas as pd

    from riskpipe.settings import Settings

LABELS_FILE = "labels.yml"
INDETERMINATE = "indeterminate"
#: not bad by what the lake knows, but a payment it cannot see (quarantined) could make it bad
UNRESOLVED = "unresolved"
#: label_status values of the label tables (label 1, label 0, label null)
STATUSES = ("bad", "good", INDETERMINATE, UNRESOLVED)
#: statuses never trained on (label null)
EXCLUDED_STATUSES = (INDETERMINATE, UNRESOLVED)
#: the version of what the dbt label models compute from a definition, recorded with every label
#: partition built; bump it when their rules change, so training refuses partitions the old rules built.
#: 2: a payment in quarantine holds a row back as ``unresolved`` (version 1, unrecorded, counted it unpaid)
LABEL_LOGIC = 2

#: what each dbt label model implements: label name -> (table, bad event, supported exclusions)
IMPLEMENTED: dict[str, tuple[str, str, frozenset[str]]] = {
    "credit_pd": ("label_credit_pd", "dpd", frozenset({INDETERMINATE})),
    "early_warning": ("label_early_warning", "dpd", frozenset()),
    "fraud": ("label_fraud", "fraud_chargeback", frozenset()),
}


class LabelConfigError(ConfigError):
    """The label definitions file is missing, unreadable or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Observation(_Strict):
    population: str = Field(min_length=1)
    event_time: str = Field(min_length=1)


class DpdBad(_Strict):
    """Bad: some installment reaches ``min_dpd`` days past due within the performance window."""

    event: Literal["dpd"]
    min_dpd: int = Field(ge=1)


class ChargebackBad(_Strict):
    """Bad: a chargeback with a fraud reason becomes known within the performance window."""

    event: Literal["fraud_chargeback"]


class Indeterminate(_Strict):
    """The worst delinquency in the window reached ``min_dpd`` but not the bad threshold."""

    min_dpd: int = Field(ge=1)


class Exclusions(_Strict):
    indeterminate: Indeterminate | None = None


class LabelDefinition(_Strict):
    name: str = ""
    version: int = Field(ge=1)
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    table: str
    entity_key: str
    time_column: str
    observation: Observation
    bad: Annotated[DpdBad | ChargebackBad, Field(discriminator="event")]
    performance_days: int = Field(ge=1)
    exclusions: Exclusions = Exclusions()
    maturity: Literal["performance_window_end"]

    @model_validator(mode="after")
    def _consistent(self) -> LabelDefinition:
        ind = self.exclusions.indeterminate
        if ind is not None:
            if not isinstance(self.bad, DpdBad):
                raise ValueError("exclusions.indeterminate needs a dpd bad definition")
            if ind.min_dpd >= self.bad.min_dpd:
                raise ValueError(f"exclusions.indeterminate.min_dpd ({ind.min_dpd}) must be below "
                                 f"bad.min_dpd ({self.bad.min_dpd})")
        return self

    @property
    def performance_window(self) -> dt.timedelta:
        return dt.timedelta(days=self.performance_days)

    @property
    def content_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the definition's canonical JSON."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def ref(self) -> str:
        return f"{self.name} v{self.version} ({self.content_hash})"

    def tags(self) -> dict[str, str]:
        """MLflow run/version tags naming the definition a model was trained with."""
        return {"label_definition": self.name, "label_definition_version": str(self.version),
                "label_definition_hash": self.content_hash}

    def manifest(self) -> dict[str, Any]:
        """The training set manifest's record of the definition (identity plus full content)."""
        return {"name": self.name, "version": self.version, "content_hash": self.content_hash,
                "definition": self.model_dump(mode="json")}

    def dbt_vars(self) -> dict[str, Any]:
        """``<name>_<parameter>`` vars of the label's dbt model (null: rule not declared)."""
        out: dict[str, Any] = {f"{self.name}_performance_days": self.performance_days}
        if isinstance(self.bad, DpdBad):
            out[f"{self.name}_bad_dpd"] = self.bad.min_dpd
        if INDETERMINATE in IMPLEMENTED[self.name][2]:
            ind = self.exclusions.indeterminate
            out[f"{self.name}_indeterminate_min_dpd"] = ind.min_dpd if ind else None
        return out


class LabelsConfig(_Strict):
    labels: dict[str, LabelDefinition]

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("labels"), dict):
            data = {**data, "labels": {n: {**d, "name": n} if isinstance(d, dict) else d
                                       for n, d in data["labels"].items()}}
        return data

    @model_validator(mode="after")
    def _implemented(self) -> LabelsConfig:
        missing = sorted(set(IMPLEMENTED) - set(self.labels))
        if missing:
            raise ValueError(f"labels: missing definition(s) {missing} (the dbt project builds "
                             f"{', '.join(IMPLEMENTED)})")
        for name, d in self.labels.items():
            if name not in IMPLEMENTED:
                raise ValueError(f"labels.{name}: no dbt label model implements it (known: {', '.join(IMPLEMENTED)})")
            table, event, exclusions = IMPLEMENTED[name]
            if d.table != table:
                raise ValueError(f"labels.{name}.table: {d.table!r}, but the label is built by {table!r}")
            if d.entity_key not in LABEL_TABLES[table][0]:
                raise ValueError(f"labels.{name}.entity_key: {d.entity_key!r} is not a key of {table}")
            if d.time_column != LABEL_TABLES[table][1]:
                raise ValueError(f"labels.{name}.time_column: {table} has time column {LABEL_TABLES[table][1]!r}")
            if d.bad.event != event:
                raise ValueError(f"labels.{name}.bad.event: {table} implements {event!r}, not {d.bad.event!r}")
            declared = {k for k, v in d.exclusions if v is not None}
            if declared - exclusions:
                raise ValueError(f"labels.{name}.exclusions: {table} does not implement "
                                 f"{sorted(declared - exclusions)}")
        return self


def load_label_definitions(path: Path | None = None) -> LabelsConfig:
    """Read and validate a label definitions file (default: the packaged ``labels.yml``); the error
    names the file and each invalid field."""
    where = str(path) if path is not None else f"packaged {LABELS_FILE}"
    try:
        text = (Path(path).read_text() if path is not None
                else resources.files("riskpipe.models").joinpath(LABELS_FILE).read_text())
        return LabelsConfig.model_validate(yaml.safe_load(text))
    except OSError as err:
        raise LabelConfigError(f"cannot read label definitions {where}: {err}") from None
    except yaml.YAMLError as err:
        raise LabelConfigError(f"invalid label definitions in {where}: not YAML: {err}") from None
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {str(e['msg']).removeprefix('Value error, ')}"
                 for e in err.errors()]
        raise LabelConfigError(f"invalid label definitions in {where}:\n  " + "\n  ".join(lines)) from None


@functools.cache
def _packaged() -> LabelsConfig:
    return load_label_definitions()


@functools.cache
def _from_file(path: str, mtime_ns: int, size: int) -> LabelsConfig:
    # keyed by the file's stat too: an edited file is read again, an unchanged one once
    return load_label_definitions(Path(path))


def _in_force(path: Path | None) -> LabelsConfig:
    if path is None:
        return _packaged()
    try:
        st = Path(path).stat()
    except OSError as err:
        raise LabelConfigError(f"cannot read label definitions {path} (RISKPIPE_LABELS_FILE): {err}") from None
    return _from_file(str(path), st.st_mtime_ns, st.st_size)


def label_definitions(settings: Settings | None = None) -> dict[str, LabelDefinition]:
    """The definitions in force: ``RISKPIPE_LABELS_FILE`` (validated like the packaged file) or the
    packaged ``labels.yml``, with the fraud performance window overridden by
    ``RISKPIPE_FRAUD_LABEL_DAYS`` when set. The content hash follows what is in force: another
    file's definition, or the override, gives another hash (the same content, the same hash)."""
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    defs = dict(_in_force(s.labels_file).labels)
    if s.fraud_label_days is not None:
        defs["fraud"] = defs["fraud"].model_copy(update={"performance_days": s.fraud_label_days})
    return defs


def definitions_file(settings: Settings | None = None) -> str:
    """Where the definitions in force come from (recorded in training set manifests)."""
    from riskpipe.settings import get_settings

    path = (settings or get_settings()).labels_file
    return str(Path(path).resolve()) if path is not None else f"packaged {LABELS_FILE}"


def built_record_path(settings: Settings, table: str, day: dt.date) -> Path:
    """``<runs>/label_definitions/<table>/dt=<day>.json``: the definition a label partition was built under."""
    return settings.runs / "label_definitions" / table / f"dt={day.isoformat()}.json"


def record_built(settings: Settings, table: str, day: dt.date) -> Path:
    """Record which definition the label partition ``table``/``day`` was just built under (the dbt build
    calls this for every label table it wrote), so training can refuse labels of another definition."""
    from riskpipe.atomic import write_atomic

    defn = next(d for d in label_definitions(settings).values() if d.table == table)
    body = json.dumps({**defn.manifest(), "file": definitions_file(settings), "label_logic": LABEL_LOGIC},
                      indent=2, sort_keys=True)
    return write_atomic(built_record_path(settings, table, day), lambda tmp: tmp.write_text(body))


def check_built(definition: LabelDefinition, days: list[dt.date], settings: Settings) -> None:
    """Refuse label partitions built under another definition than ``definition`` (another file, an
    edit, another RISKPIPE_FRAUD_LABEL_DAYS) or whose definition was never recorded: their bad,
    indeterminate and maturity rules are not the ones training would apply. Partitions built by older
    label models (another :data:`LABEL_LOGIC`, or none recorded) are refused too."""
    other, unknown, older = [], [], []
    for day in days:
        path = built_record_path(settings, definition.table, day)
        try:
            built = json.loads(path.read_text())
        except FileNotFoundError:
            unknown.append(day.isoformat())
            continue
        except (OSError, ValueError) as err:
            raise LabelConfigError(f"{definition.table} dt={day}: unreadable build record {path}: {err}") from None
        if built.get("content_hash") != definition.content_hash:
            other.append(f"dt={day} ({built.get('name')} v{built.get('version')} ({built.get('content_hash')}) "
                         f"from {built.get('file')})")
        elif built.get("label_logic", 1) != LABEL_LOGIC:
            older.append(f"dt={day} (label logic v{built.get('label_logic', 1)})")
    if other:
        raise LabelConfigError(
            f"{definition.table}: partitions built under another label definition than the one in force, "
            f"{definition.ref} from {definitions_file(settings)}: {'; '.join(other)}. Rebuild them with "
            "`riskpipe indicators` under the same RISKPIPE_LABELS_FILE / RISKPIPE_FRAUD_LABEL_DAYS, or train "
            "under the definitions they were built with")
    if older:
        raise LabelConfigError(
            f"{definition.table}: partitions built by another version of the label models than this one "
            f"(label logic v{LABEL_LOGIC}: a payment in quarantine holds a row back as unresolved): "
            f"{'; '.join(older)}. Rebuild them with `riskpipe indicators` (the same definition, "
            f"{definition.ref})")
    if unknown:
        raise LabelConfigError(
            f"{definition.table}: no record of the label definition partitions {', '.join(unknown)} were built "
            f"under (expected under {settings.runs / 'label_definitions' / definition.table}); rebuild them "
            "with `riskpipe indicators`")


def label_definition(name: str, settings: Settings | None = None) -> LabelDefinition:
    from riskpipe.settings import get_settings

    defs = label_definitions(settings)
    try:
        return defs[name]
    except KeyError:
        where = (settings or get_settings()).labels_file or LABELS_FILE
        raise LabelConfigError(f"unknown label definition {name!r}; declared in {where}: "
                               f"{', '.join(defs)}") from None


def dbt_vars(settings: Settings | None = None) -> dict[str, Any]:
    """Every label parameter as the dbt vars the label models read."""
    out: dict[str, Any] = {}
    for d in label_definitions(settings).values():
        out.update(d.dbt_vars())
    return out


def training_rows(definition: LabelDefinition, labels: pd.DataFrame,
                  as_of: dt.datetime) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows of a label table a model may train on by ``as_of``, and what was left out and why.

    A row is used once matured (its performance window closed by ``as_of``, for both classes: early
    positives alone would inflate the bad rate of recent days) and when not excluded (label_status
    ``indeterminate``, or ``unresolved``: a quarantined payment could turn it).
    """
    import pandas as pd

    if "label_status" not in labels.columns:
        raise LabelConfigError(f"{definition.table}: rows without a label_status column (built before label "
                               "definitions; rebuild the partitions with riskpipe indicators)")
    unknown = sorted(set(labels["label_status"].dropna()) - set(STATUSES))
    if unknown or labels["label_status"].isna().any():
        raise LabelConfigError(f"{definition.table}: label_status must be one of {STATUSES}, "
                               f"found {unknown or [None]}")
    cut = pd.Timestamp(as_of)
    matured = (pd.to_datetime(labels[definition.time_column], utc=True) + definition.performance_window <= cut) & (
        pd.to_datetime(labels["label_known_at"], utc=True) <= cut)
    status = labels["label_status"]
    used = matured & ~status.isin(EXCLUDED_STATUSES)
    counts = {"rows": len(labels), "not_matured": int((~matured).sum()),
              **{f"excluded_{x}": int((matured & (status == x)).sum()) for x in EXCLUDED_STATUSES},
              "used": int(used.sum())}
    return labels[used].reset_index(drop=True), counts
