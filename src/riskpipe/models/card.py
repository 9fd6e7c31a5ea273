"""Model card: what a reviewer needs before trusting a version, as Markdown and HTML.

Generated from the same numbers that are logged as metrics, so the card cannot drift from the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class CardInputs:
    model_name: str
    kind: str
    feature_service: str
    label: str
    label_definition: str
    time_column: str
    train_window: tuple[str, str]
    oot_window: tuple[str, str]
    data_hash: str
    n_train: int
    n_oot: int
    features: list[str]
    monotone: dict[str, int]
    oot_metrics: dict[str, float]
    train_metrics: dict[str, float]
    psi: dict[str, float]
    reliability: pd.DataFrame
    importance: dict[str, float]
    scale: dict[str, float]
    bands: dict[str, float]
    scorecard_table: pd.DataFrame | None = None
    extra_limitations: list[str] = field(default_factory=list)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


def render_markdown(c: CardInputs) -> str:
    """The card in Markdown."""
    metric_rows = pd.DataFrame(
        [(k, c.train_metrics.get(k, float("nan")), c.oot_metrics.get(k, float("nan")))
         for k in ("auc", "ks", "gini", "brier", "ece", "calibration_ratio", "bad_rate")],
        columns=["metric", "train", "out-of-time"],
    )
    imp = sorted(c.importance.items(), key=lambda kv: kv[1], reverse=True)
    feats = pd.DataFrame(
        [(f, c.monotone.get(f, 0), v) for f, v in imp], columns=["feature", "declared monotone", "importance"]
    )
    psi = pd.DataFrame(sorted(c.psi.items()), columns=["what", "PSI train->OOT"])
    limitations = [
        "Validated out of time on the window above only; performance on later periods is not known.",
        "Trained on the label as defined at training time; a change of label definition needs a retrain.",
        "PSI above 0.25 on the score or a top feature means the population moved: re-validate before use.",
    ]
    if c.kind == "lightgbm":
        limitations.append("Gradient-boosted trees extrapolate flat beyond the training range of each feature.")
        if not c.monotone:
            limitations.append("No monotone constraints were declared: risk may move non-monotonically.")
    else:
        limitations.append("Scorecard points change in steps at bin edges; interactions are not modelled.")
    if "auc_ratio_to_best" in c.oot_metrics:
        limitations.append(
            f"AUC is {c.oot_metrics['auc_ratio_to_best']:.3f} of the best achievable "
            f"({c.oot_metrics['best_auc']:.4f}, the true probability) on the same OOT rows."
        )
    limitations += c.extra_limitations
    parts = [
        f"# Model card: {c.model_name} ({c.kind})",
        "## Data",
        "\n".join([
            f"- feature service: `{c.feature_service}`",
            f"- label: `{c.label}` (definition `{c.label_definition}`)",
            f"- time column: `{c.time_column}`",
            f"- training window: {c.train_window[0]} .. {c.train_window[1]} ({c.n_train} rows)",
            f"- out-of-time window: {c.oot_window[0]} .. {c.oot_window[1]} ({c.n_oot} rows)",
            f"- data snapshot hash: `{c.data_hash}`",
        ]),
        "## Metrics",
        _md_table(metric_rows),
        "## Calibration (out-of-time reliability curve)",
        _md_table(c.reliability.round(5)),
        "## Stability",
        _md_table(psi),
        "## Features",
        _md_table(feats),
        "## Scoring",
        "\n".join([
            f"- points: PDO {c.scale['pdo']}, base score {c.scale['base_score']} at odds {c.scale['base_odds']}:1",
            f"- bands: approve PD < {c.bands['approve_max_pd']}, decline PD >= {c.bands['decline_min_pd']}, else refer",
            "- reason codes: " + (
                "points lost per feature versus its best bin" if c.kind == "scorecard"
                else "largest positive TreeSHAP contributions (LightGBM pred_contrib)"
            ),
        ]),
    ]
    if c.scorecard_table is not None:
        parts += ["## Scorecard", _md_table(c.scorecard_table)]
    parts += ["## Limitations", "\n".join(f"- {x}" for x in limitations)]
    return "\n\n".join(parts) + "\n"


def render_html(markdown_text: str, title: str) -> str:
    """The same card as a standalone HTML page."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown_text)
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{body}</body></html>\n"
