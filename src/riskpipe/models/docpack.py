"""Model documentation pack: one self-contained HTML document per registered version.

Built only from what the system already recorded: the version's MLflow tags, metrics and artifacts
(plots, model card, OOT evaluation set), the Feast feature repo, the dbt schema YAML (definitions,
units, owners), the source declarations, GX validation summaries and the alias history. Whatever is
missing shows as an explicit "Not recorded" note; nothing is recomputed from fresh data except the
reliability table, which re-scores the logged OOT rows with the registered model.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from riskpipe.atomic import write_atomic
from riskpipe.errors import RiskpipeError
from riskpipe.monitoring.report import html_table, png, render_page

if TYPE_CHECKING:
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

#: Section ids in document order (the browser test checks each exists).
SECTIONS: list[tuple[str, str]] = [
    ("header", "Model version"),
    ("lineage", "Data sources and lineage"),
    ("validation", "Validation results"),
    ("features", "Features"),
    ("label", "Label definition"),
    ("performance", "Out-of-time performance"),
    ("calibration", "Calibration"),
    ("stability", "Stability"),
    ("limitations", "Limitations"),
    ("approvals", "Approvals and alias history"),
]
METRICS = ("auc", "ks", "gini", "brier", "ece", "calibration_ratio", "bad_rate", "n", "best_auc", "auc_ratio_to_best")
PLOTS = ("roc", "ks", "calibration", "score_distribution", "feature_importance")
_REF = re.compile(r"\bref\(\s*['\"](\w+)['\"]\s*\)")
_SOURCE = re.compile(r"\bsource\(\s*['\"](\w+)['\"]\s*,\s*['\"](\w+)['\"]\s*\)")
_SILVER_MACRO = re.compile(r"\bsilver_relation\(\s*['\"](\w+)['\"]")  # dbt/macros/paths.sql: source('silver', name)


class DocpackError(RiskpipeError):
    """The documented version cannot be found (no such model, version or alias)."""


def not_recorded(what: str, cls: str = "nodata") -> str:
    """The note of a section (class ``nodata``) or part of one (``nodata-part``) without recorded facts."""
    return f"<p class=\"{cls}\">Not recorded: {html.escape(what)}</p>"


# ---- repo facts: dbt docs, dbt lineage, feature service, label definition ----------------------------
@dataclasses.dataclass
class DbtModelDoc:
    name: str
    description: str
    owner: str
    columns: dict[str, dict[str, str]]  # column -> description, definition, unit, owner


def dbt_docs(project: Path | None = None) -> dict[str, DbtModelDoc]:
    """Every documented dbt model from the schema YAML files (always in the repo, unlike manifest.json)."""
    import yaml

    from riskpipe.indicators.build import dbt_project_dir

    root = (project or dbt_project_dir()) / "models"
    out: dict[str, DbtModelDoc] = {}
    for f in sorted(root.rglob("*.yml")):
        body = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for m in body.get("models") or []:
            meta = {**(m.get("meta") or {}), **((m.get("config") or {}).get("meta") or {})}
            cols = {}
            for c in m.get("columns") or []:
                cmeta = {**(c.get("meta") or {}), **((c.get("config") or {}).get("meta") or {})}
                cols[c["name"]] = {"description": str(c.get("description") or ""),
                                   "definition": str(cmeta.get("definition") or c.get("description") or ""),
                                   "unit": str(cmeta.get("unit") or ""), "owner": str(cmeta.get("owner") or "")}
            out[m["name"]] = DbtModelDoc(m["name"], str(m.get("description") or ""), str(meta.get("owner") or ""),
                                         cols)
    return out


def dbt_silver_inputs(model: str, project: Path | None = None) -> list[str] | None:
    """The silver datasets a dbt model reads (``source('silver', x)`` or ``silver_relation(x)`` through its
    ``ref`` chain), or None
    when ``model`` is not a dbt model."""
    from riskpipe.indicators.build import dbt_project_dir

    sql = {p.stem: p for p in ((project or dbt_project_dir()) / "models").rglob("*.sql")}
    if model not in sql:
        return None
    seen, todo, silver = set(), [model], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in sql:
            continue
        seen.add(name)
        text = sql[name].read_text(encoding="utf-8")
        todo += _REF.findall(text)
        silver |= {table for src, table in _SOURCE.findall(text) if src == "silver"}
        silver |= set(_SILVER_MACRO.findall(text))
    return sorted(silver)


def service_lineage(feature_service: str, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(lineage rows, feature rows, note) of a feature service as declared in ``feature_repo/``.

    Lineage: service -> feature view -> feature table (dbt model or Spark graph job) -> silver dataset
    -> landing source. Features: every feature of the service with its dbt definition, unit, owner.
    """
    from riskpipe.features.store import load_definitions, request_fields
    from riskpipe.indicators import graph
    from riskpipe.sources.config import get_sources

    defs = load_definitions(settings)
    services = {s.name: s for s in defs.feature_services}
    if feature_service not in services:
        return pd.DataFrame(), pd.DataFrame(), (
            f"feature service {feature_service!r} is not declared in feature_repo/ "
            f"(declared: {', '.join(sorted(services))}); the model was trained on a table given by hand")
    views = {v.name: v for v in defs.feature_views}
    odfvs = {v.name: v for v in defs.on_demand_feature_views}
    docs = dbt_docs()
    sources = get_sources()
    lineage, feats = [], []

    def table_rows(view: str) -> None:
        if graph.TABLE == view:
            producer, silver = "Spark graph job (riskpipe graph)", list(graph.SILVER_INPUTS)
        else:
            silver = dbt_silver_inputs(view)
            producer = "dbt model" if silver is not None else "not recorded"
        for ds in silver or [None]:
            src = sources.sources.get(ds) if ds else None
            lineage.append({
                "feature_service": feature_service, "feature_view": view, "feature_table": view,
                "producer": producer, "silver_dataset": ds or "not recorded",
                "landing_source": (f"landing/{ds}/dt=*/{src.file} ({getattr(src.format, 'value', src.format)})" if src else "not recorded"),
                "source_owner": src.owner if src else "", "source_description": src.description if src else ""})

    for proj in services[feature_service].feature_view_projections:
        if proj.name in views:
            table_rows(proj.name)
            doc = docs.get(proj.name)
            for f in proj.features:
                col = doc.columns.get(f.name) if doc else None
                feats.append({"feature": f.name, "feature_view": proj.name, "type": str(f.dtype),
                              "definition": col["definition"] if col else "not recorded in the dbt docs",
                              "unit": col["unit"] if col else "", "owner": col["owner"] if col else ""})
        else:
            odfv = odfvs[proj.name]
            inputs = sorted({p.name for p in odfv.source_feature_view_projections.values()})
            request = request_fields([odfv])
            for v in inputs:
                lineage.append({"feature_service": feature_service, "feature_view": proj.name,
                                "feature_table": f"on demand over {v}", "producer": "Feast on-demand view",
                                "silver_dataset": "", "landing_source": "", "source_owner": odfv.owner,
                                "source_description": odfv.description})
            for f in proj.features:
                feats.append({"feature": f.name, "feature_view": proj.name, "type": str(f.dtype),
                              "definition": f"{odfv.description} (request fields: {', '.join(request)})",
                              "unit": "", "owner": odfv.owner})
    return pd.DataFrame(lineage), pd.DataFrame(feats), ""


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": str(v)})
    return out


def label_facts(label_definition: str | None, label_column: str | None, recorded_version: str | None = None,
                recorded_hash: str | None = None, settings: Settings | None = None) -> tuple[dict[str, str], str]:
    """What the label means and where that is written (the one place that looks it up).

    The definition in ``riskpipe/models/labels.yml`` (riskpipe.models.labels, with its overrides)
    named like the version's ``label_definition`` tag or whose ``table`` is that name; a version
    trained with another content (recorded hash differs) says so. Then the dbt docs of the label
    table (its description and the label column's definition)."""
    from riskpipe.models.labels import label_definitions

    facts: dict[str, str] = {}
    where: list[str] = []
    table = label_definition or ""
    defs = label_definitions(settings) if label_definition else {}
    d = next((x for n, x in defs.items() if label_definition in (n, x.table)), None)
    if d is not None:
        facts.update({"name": d.name, **_flat(d.model_dump(mode="json", exclude={"name"})),
                      "content hash": d.content_hash})
        if recorded_hash and recorded_hash != d.content_hash:
            facts["changed since training"] = (f"trained with v{recorded_version} ({recorded_hash}); "
                                               f"the definition in force now is {d.ref}")
        table = d.table
        where.append(f"labels.yml definition {d.ref}")
    doc = dbt_docs().get(table)
    if doc is not None:
        facts["label table"] = doc.name
        facts["table description"] = doc.description
        col = doc.columns.get(label_column or "")
        if col:
            facts["label column definition"] = col["definition"]
            facts["unit"] = col["unit"]
        if "label_known_at" in doc.columns:
            facts["label known at"] = doc.columns["label_known_at"]["definition"]
        facts.setdefault("owner", doc.owner)
        where.append(f"dbt docs of {doc.name}")
    return facts, " and ".join(where)


# ---- version facts from MLflow -------------------------------------------------------------------------
@dataclasses.dataclass
class DocInputs:
    """Everything the document renders (computed by :func:`collect`)."""

    model_name: str
    version: str
    tags: dict[str, str]
    aliases: list[str]
    registered_at: str
    registered_by: str
    run_id: str
    metrics: dict[str, float]
    plots: dict[str, bytes]
    card: str | None
    lineage: pd.DataFrame
    features: pd.DataFrame
    lineage_note: str
    validation: pd.DataFrame
    label: dict[str, str]
    label_source: str
    reliability: pd.DataFrame | None
    importance: dict[str, float] | None
    history: pd.DataFrame
    notes: dict[str, str] = dataclasses.field(default_factory=dict)  # why a part is missing


@dataclasses.dataclass
class DocResult:
    path: Path
    version: str
    sections: dict[str, bool]  # section id -> has recorded facts


def resolve_version(client, model_name: str, version: str | None, alias: str | None):  # noqa: ANN001, ANN201
    """The ModelVersion to document: ``version``, else ``alias`` (default ``champion``)."""
    from mlflow.exceptions import MlflowException

    from riskpipe.models.registry import CHAMPION, RegistryError, _require_model, alias_version

    if version is not None and alias is not None:
        raise DocpackError("give either --version or --alias, not both")
    try:
        _require_model(client, model_name)
    except RegistryError as err:
        raise DocpackError(str(err)) from None
    if version is None:
        alias = alias or CHAMPION
        mv = alias_version(client, model_name, alias)
        if mv is None:
            raise DocpackError(f"model {model_name!r} has no {alias!r} alias; pass --version")
        version = str(mv.version)
    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException:
        known = sorted((str(v.version) for v in client.search_model_versions(f"name='{model_name}'")), key=int)
        raise DocpackError(f"model {model_name!r} has no version {version!r} (versions: {', '.join(known)})") from None


def _plots(run_id: str) -> dict[str, bytes]:
    import mlflow.artifacts

    out = {}
    with tempfile.TemporaryDirectory() as d:
        try:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots", dst_path=d))
        except Exception as err:  # noqa: BLE001 - an absent artifact folder is a "not recorded" note
            log.info("run %s has no plots: %s", run_id, err)
            return out
        for name in PLOTS:
            f = local / f"{name}.png"
            if f.is_file():
                out[name] = f.read_bytes()
    return out


def _history(model_name: str, version: str, settings: Settings) -> pd.DataFrame:
    from riskpipe.models.registry import read_history

    cols = ["when", "who", "alias", "action", "from_version", "to_version", "candidate_version",
            "requested_by", "approved_by", "reason"]
    rows = []
    for h in read_history(model_name, settings):
        if version not in {str(h.get(k)) for k in ("from_version", "to_version", "candidate_version")}:
            continue
        ev = h.get("evidence") or {}
        rows.append({**{k: h.get(k) for k in cols}, "requested_by": ev.get("requested_by"),
                     "approved_by": ev.get("approved_by")})
    return pd.DataFrame(rows, columns=cols)


def collect(model_name: str, *, version: str | None = None, alias: str | None = None,
            settings: Settings | None = None) -> DocInputs:
    """Gather the recorded facts of one registered version (see module doc)."""
    import mlflow.artifacts
    import mlflow.pyfunc

    from riskpipe.models.evaluate import reliability
    from riskpipe.models.explain import feature_matrix, resolve_estimator
    from riskpipe.models.registry import configure_mlflow, load_eval_set
    from riskpipe.monitoring import metrics as M
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    client = configure_mlflow(s)
    mv = resolve_version(client, model_name, version, alias)
    v, tags, notes = str(mv.version), dict(mv.tags or {}), {}
    run = client.get_run(mv.run_id) if mv.run_id else None
    metrics = dict(run.data.metrics) if run else {}
    plots = _plots(mv.run_id) if mv.run_id else {}
    card = None
    if mv.run_id:
        try:
            card = mlflow.artifacts.load_text(f"runs:/{mv.run_id}/model_card.md")
        except Exception as err:  # noqa: BLE001
            notes["card"] = f"no model_card.md in run {mv.run_id} ({type(err).__name__})"
    service = tags.get("feature_service")
    lineage, feats, lnote = pd.DataFrame(), pd.DataFrame(), ""
    if service:
        lineage, feats, lnote = service_lineage(service, s)
    else:
        lnote = "the version has no feature_service tag"
    est = None
    try:
        est = resolve_estimator(mlflow.pyfunc.load_model(f"models:/{model_name}/{v}"))
    except Exception as err:  # noqa: BLE001
        notes["model"] = f"the registered model of v{v} cannot be loaded ({type(err).__name__}: {err})"
    importance = est.importance() if est is not None else None
    model_feats = [f for f in tags.get("features", "").split(",") if f] or (list(est.features) if est else [])
    feats = _with_model_features(feats, model_feats, importance)
    rel = None
    try:
        ev = load_eval_set(client, mv)
        if est is not None:
            rel = reliability(ev[tags["label_column"]].to_numpy(float),
                              est.predict_proba(feature_matrix(ev, list(est.features))))
    except Exception as err:  # noqa: BLE001
        notes["eval_set"] = f"the OOT evaluation set of v{v} is not available ({type(err).__name__}: {err})"
    val = pd.DataFrame()
    if tags.get("train_start") and tags.get("oot_end"):
        start, end = pd.Timestamp(tags["train_start"]).date(), pd.Timestamp(tags["oot_end"]).date()
        val = M.validation_results(s, start, end)
        wanted = set(lineage["feature_table"]) | set(lineage["silver_dataset"]) if len(lineage) else set()
        val = val[val["dataset"].isin(wanted)] if wanted else val.iloc[0:0]
        notes["validation_window"] = f"{start} .. {end}"
    label, label_src = label_facts(tags.get("label_definition"), tags.get("label_column"),
                                   tags.get("label_definition_version"), tags.get("label_definition_hash"), s)
    created = (dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC).isoformat(timespec="seconds")
               if mv.creation_timestamp else "")
    return DocInputs(
        model_name=model_name, version=v, tags=tags, aliases=sorted(mv.aliases or []), registered_at=created,
        registered_by=mv.user_id or (run.info.user_id if run else "") or "", run_id=mv.run_id or "",
        metrics=metrics, plots=plots, card=card, lineage=lineage, features=feats, lineage_note=lnote,
        validation=val, label=label, label_source=label_src, reliability=rel, importance=importance,
        history=_history(model_name, v, s), notes=notes)


def _with_model_features(feats: pd.DataFrame, model_feats: list[str],
                         importance: dict[str, float] | None) -> pd.DataFrame:
    """The service's features plus any model feature the service does not declare, with importance."""
    cols = ["feature", "feature_view", "type", "definition", "unit", "owner"]
    feats = feats if len(feats) else pd.DataFrame(columns=cols)
    extra = [f for f in model_feats if f not in set(feats["feature"])]
    if extra:
        feats = pd.concat([feats, pd.DataFrame([{"feature": f, "feature_view": "not in the feature service",
                                                 "type": "", "definition": "not recorded", "unit": "",
                                                 "owner": ""} for f in extra])], ignore_index=True)
    used = set(model_feats)
    feats["used_by_model"] = ["yes" if f in used else "no" for f in feats["feature"]] if used else "not recorded"
    feats["importance"] = [importance.get(f) if importance else None for f in feats["feature"]]
    return feats


# ---- rendering -------------------------------------------------------------------------------------------
def _img(data: bytes, name: str) -> str:
    return (f"<img class=\"plot\" alt=\"{html.escape(name)}\" "
            f"src=\"data:image/png;base64,{base64.b64encode(data).decode('ascii')}\">")


def _kv(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td data-key=\"{html.escape(k)}\">"
                   f"{html.escape(str(v)) if v not in (None, '') else '<em>not recorded</em>'}</td></tr>"
                   for k, v in rows)
    return f"<table class=\"kv\"><tbody>{body}</tbody></table>"


def sec_header(x: DocInputs) -> tuple[str, bool]:
    t = x.tags

    def window(a: str, b: str) -> str | None:
        return f"{t[a]} .. {t[b]}" if t.get(a) and t.get(b) else None

    return _kv([
        ("model", x.model_name), ("version", x.version), ("model kind", t.get("model_kind")),
        ("aliases now", ", ".join(x.aliases) or "none"), ("registered at", x.registered_at),
        ("registered by", x.registered_by), ("MLflow run id", x.run_id),
        ("feature service", t.get("feature_service")), ("label column", t.get("label_column")),
        ("label definition", t.get("label_definition")), ("time column", t.get("time_column")),
        ("training window", window("train_start", "train_end")), ("training rows", t.get("n_train")),
        ("out-of-time window", window("oot_start", "oot_end")), ("out-of-time rows", t.get("n_oot")),
        ("data snapshot hash", t.get("data_hash")), ("training set", t.get("source")),
        ("training set manifest", t.get("training_set_manifest")), ("labels known by", t.get("labels_known_by")),
    ]), bool(x.run_id)


def _svg(lineage: pd.DataFrame) -> str:
    """The lineage as a left-to-right box diagram (inline SVG, no script)."""
    cols = ["feature_service", "feature_view", "feature_table", "silver_dataset", "landing_source"]
    nodes = {c: list(dict.fromkeys(v for v in lineage[c] if v)) for c in cols}
    w, bh, gap = 230, 26, 10
    height = max(len(n) for n in nodes.values()) * (bh + gap) + 40
    pos = {(c, v): (20 + i * (w + 40), 30 + j * (bh + gap)) for i, c in enumerate(cols) for j, v in enumerate(nodes[c])}
    parts = [f"<text x=\"{20 + i * (w + 40)}\" y=\"18\" font-size=\"12\" font-weight=\"bold\">{c.replace('_', ' ')}</text>"
             for i, c in enumerate(cols)]
    edges = set()
    for r in lineage.itertuples(index=False):
        d = r._asdict()
        for a, b in zip(cols, cols[1:], strict=False):
            if d[a] and d[b]:
                edges.add(((a, d[a]), (b, d[b])))
    for a, b in sorted(edges):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        parts.append(f"<line x1=\"{x1 + w}\" y1=\"{y1 + bh / 2}\" x2=\"{x2}\" y2=\"{y2 + bh / 2}\" "
                     "stroke=\"#8c959f\" stroke-width=\"1\"/>")
    for (_, v), (x0, y0) in pos.items():
        label = v if len(v) <= 34 else v[:32] + "…"
        parts.append(f"<g class=\"node\"><rect x=\"{x0}\" y=\"{y0}\" width=\"{w}\" height=\"{bh}\" rx=\"4\" "
                     f"fill=\"#ddf4ff\" stroke=\"#0969da\"/><title>{html.escape(v)}</title><text x=\"{x0 + 6}\" "
                     f"y=\"{y0 + 17}\" font-size=\"11\">{html.escape(label)}</text></g>")
    width = 20 + len(cols) * (w + 40)
    return (f"<svg class=\"lineage\" width=\"{width}\" height=\"{height}\" "
            f"viewBox=\"0 0 {width} {height}\">{''.join(parts)}</svg>")


def sec_lineage(x: DocInputs) -> tuple[str, bool]:
    if x.lineage.empty:
        return not_recorded(x.lineage_note or "no lineage for this version's feature service."), False
    return _svg(x.lineage) + html_table(x.lineage), True


def sec_validation(x: DocInputs) -> tuple[str, bool]:
    window = x.notes.get("validation_window")
    if window is None:
        return not_recorded("the version has no training/OOT window tags to look up validations for."), False
    if x.validation.empty:
        return not_recorded(f"no Great Expectations validation summary of this version's feature tables or "
                            f"silver datasets between {window} (riskpipe validate writes <lake>/_runs/validate)."), False
    failed = int((~x.validation["passed"].astype(bool)).sum())
    return (f"<p class=\"meta\">{len(x.validation)} validation summaries between {window}, {failed} failing.</p>"
            + html_table(x.validation, row_class=lambda r: "" if r["passed"] else "alert")), True


def sec_features(x: DocInputs) -> tuple[str, bool]:
    out = ""
    if x.importance is None:
        out += not_recorded(x.notes.get("model", "feature importance of the registered model."), "nodata-part")
    if "feature_importance" in x.plots:
        out += _img(x.plots["feature_importance"], "feature importance")
    if x.features.empty:
        return out + not_recorded(x.lineage_note or "no feature list for this version."), False
    feats = x.features.sort_values("importance", ascending=False, na_position="last", kind="stable")
    return out + html_table(feats, row_class=lambda r: "warn" if r["definition"].startswith("not recorded") else ""), True


def sec_label(x: DocInputs) -> tuple[str, bool]:
    t = x.tags
    rows = [("label column", t.get("label_column")), ("label definition (tag)", t.get("label_definition"))]
    if not x.label:
        return _kv(rows) + not_recorded(f"no documented definition named {t.get('label_definition')!r} "
                                        "(neither riskpipe/models/labels.yml nor a dbt label table)."), False
    return (_kv(rows + list(x.label.items()))
            + f"<p class=\"meta\">from {html.escape(x.label_source)}</p>"), True


def sec_performance(x: DocInputs) -> tuple[str, bool]:
    rows = [m for m in METRICS if f"oot_{m}" in x.metrics or f"train_{m}" in x.metrics]
    if not rows:
        return not_recorded(f"no oot_* metrics in run {x.run_id or '(none)'}."), False

    def cell(key: str) -> str:
        if key not in x.metrics:
            return "<td></td>"
        v = x.metrics[key]
        return f"<td data-metric=\"{key}\" data-value=\"{v!r}\">{v:.0f}</td>" if key.endswith("_n") else \
            f"<td data-metric=\"{key}\" data-value=\"{v!r}\">{v:.4f}</td>"

    body = "".join(f"<tr><th>{m}</th>{cell('train_' + m)}{cell('oot_' + m)}</tr>" for m in rows)
    out = f"<table class=\"metrics\"><thead><tr><th>metric</th><th>train</th><th>out-of-time</th></tr></thead>" \
          f"<tbody>{body}</tbody></table>"
    for name in ("roc", "ks"):
        out += _img(x.plots[name], name) if name in x.plots else not_recorded(f"plots/{name}.png", "nodata-part")
    return out, True


def sec_calibration(x: DocInputs) -> tuple[str, bool]:
    out = ""
    if "calibration" in x.plots:
        out += _img(x.plots["calibration"], "calibration")
    if x.reliability is not None:
        if not out:
            from riskpipe.models.evaluate import _plt

            fig, ax = _plt().subplots(figsize=(4.5, 4))
            ax.plot([0, x.reliability["mean_predicted"].max()], [0, x.reliability["mean_predicted"].max()], "--")
            ax.plot(x.reliability["mean_predicted"], x.reliability["observed"], marker="o")
            ax.set(title="reliability (re-scored logged OOT rows)", xlabel="mean predicted", ylabel="observed")
            out += png(fig)
        out += "<h3>Reliability on the logged OOT rows</h3>" + html_table(x.reliability)
    else:
        out += not_recorded(x.notes.get("eval_set") or x.notes.get("model") or "the OOT evaluation set.",
                            "nodata-part")
    has = "calibration" in x.plots or x.reliability is not None
    return (out if has else not_recorded("no calibration plot and no evaluation set to recompute one.")), has


def sec_stability(x: DocInputs) -> tuple[str, bool]:
    from riskpipe.monitoring.config import get_monitor_settings
    from riskpipe.monitoring.metrics import classify

    psi = {k.removeprefix("psi_"): v for k, v in x.metrics.items() if k.startswith("psi_")}
    if not psi:
        return not_recorded(f"no psi_* metrics in run {x.run_id or '(none)'}."), False
    ms = get_monitor_settings()
    df = pd.DataFrame([{"what": k.removeprefix("feature_") if k != "score" else "score", "psi_train_to_oot": v,
                        "status": classify(v, ms)} for k, v in sorted(psi.items(), key=lambda kv: kv[0] != "score")])
    out = (f"<p class=\"meta\">PSI from training to out-of-time rows (warn at {ms.psi_warn}, alert at "
           f"{ms.psi_alert}): the score and the top features by importance.</p>"
           + html_table(df, row_class=lambda r: r["status"] if r["status"] in ("warn", "alert") else ""))
    if "score_distribution" in x.plots:
        out += _img(x.plots["score_distribution"], "score distribution")
    return out, True


def card_section(card: str, title: str) -> list[str]:
    """The bullet lines of one ``## title`` section of a model card (empty when absent)."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", card, flags=re.M | re.S)
    return [ln[2:].strip() for ln in (m.group(1).splitlines() if m else []) if ln.startswith("- ")]


def sec_limitations(x: DocInputs) -> tuple[str, bool]:
    items = card_section(x.card, "Limitations") if x.card else []
    if not items:
        return not_recorded(x.notes.get("card") or "the model card has no Limitations section."), False
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>", True


def sec_approvals(x: DocInputs) -> tuple[str, bool]:
    h = x.history
    if h.empty:
        return not_recorded(f"no alias move, promotion decision or approval of v{x.version} in the alias "
                            "history."), False
    notes = []
    for r in h.itertuples(index=False):
        if r.action == "promote" and str(r.to_version) == x.version:
            notes.append(f"{r.when}: champion -> v{x.version} by {r.who}; "
                         + (f"approved by {r.approved_by} (requested by {r.requested_by})" if r.approved_by
                            else "no second-person approval recorded (RISKPIPE_MODEL_PROMOTE_APPROVAL off)"))
    lead = "".join(f"<p class=\"approval\">{html.escape(n)}</p>" for n in notes)
    return lead + html_table(h, row_class=lambda r: "warn" if r["action"] in ("reject", "rollback") else ""), True


RENDER = {"header": sec_header, "lineage": sec_lineage, "validation": sec_validation, "features": sec_features,
          "label": sec_label, "performance": sec_performance, "calibration": sec_calibration,
          "stability": sec_stability, "limitations": sec_limitations, "approvals": sec_approvals}


def render(x: DocInputs) -> tuple[str, dict[str, bool]]:
    """The whole HTML document and which sections had recorded facts."""
    return render_page(f"{x.model_name} v{x.version} model documentation",
                       " from the MLflow registry, feature_repo/, the dbt docs, sources.yml, validation summaries "
                       "and the alias history", SECTIONS, RENDER, x, css="table.kv th{text-align:left;width:14em}")


def default_path(settings: Settings, model_name: str, version: str) -> Path:
    return settings.reports / f"model_doc_{model_name}_v{version}.html"


def build_model_doc(model_name: str, *, version: str | None = None, alias: str | None = None,
                    out: Path | None = None, settings: Settings | None = None) -> DocResult:
    """Collect and write the documentation of one version atomically (default under the reports folder)."""

    from riskpipe.settings import get_settings

    s = settings or get_settings()
    x = collect(model_name, version=version, alias=alias, settings=s)
    doc, has = render(x)
    path = write_atomic(Path(out) if out else default_path(s, model_name, x.version),
                        lambda tmp: tmp.write_text(doc, encoding="utf-8"))
    log.info("model documentation of %s v%s -> %s", model_name, x.version, path)
    return DocResult(path=path, version=x.version, sections=has)

