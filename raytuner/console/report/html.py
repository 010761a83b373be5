"""One self-contained HTML page: plotly's JavaScript inlined once, no network request."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

CONFIG = {"displaylogo": False, "responsive": True}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; display: block; max-width: 100%; overflow-x: auto; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; } td { max-width: 40em; overflow-wrap: anywhere; }
th { background: #f4f4f4; text-align: left; } pre { background: #f8f8f8; padding: 0.8em; overflow-x: auto; }
.note { color: #666; } .error { color: #b00; white-space: pre-wrap; font-family: monospace; font-size: 0.85em; }
nav a { margin-right: 1em; }
"""


@dataclass(frozen=True)
class Section:
    """A titled part of the page: its HTML (figures already rendered into it)."""

    title: str
    body: str

    @property
    def anchor(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower())


def figure_html(fig: go.Figure) -> str:
    """A figure's div and script, without plotly.js (the page carries it once)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config=CONFIG)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, *, error_column: str | None = None) -> str:
    if not rows:
        return note("none")
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c, "")
            text = html.escape(_text(value))
            cells.append(f'<td class="error">{text}</td>' if c == error_column else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    from plotly.offline import get_plotlyjs

    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    parts = [f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<h1>{html.escape(title)}</h1><p class=\"note\">{html.escape(subtitle)}</p><nav>{nav}</nav>"
        + "".join(parts) + "</body></html>\n"
    )
