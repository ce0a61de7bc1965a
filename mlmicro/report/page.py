"""The page around a report: its style sheet, its small script and the HTML skeleton."""

import html as _html
from dataclasses import dataclass
from typing import Any

__all__ = ["CSS", "PAGE", "SCRIPT", "Section", "section", "shap_units"]


def _e(value: object) -> str:
    return _html.escape(str(value))


@dataclass(frozen=True)
class Section:
    """One part of the page: its anchor and heading (for the navigation bar) and body."""

    anchor: str
    title: str
    body: str

    @property
    def html(self) -> str:
        """The section as HTML."""
        return f'<section id="{self.anchor}"><h2>{_e(self.title)}</h2>{self.body}</section>'


def section(anchor: str, title: str, body: str) -> Section:
    """Return one part of the page."""
    return Section(anchor, title, body)


def shap_units(explanation: Any, multiclass: str) -> str:
    """Return the unit of an explanation's SHAP values, for labels."""
    if explanation.unit == "probability":
        return "probability"
    return "log-odds" if len(explanation.classes) == 2 else multiclass


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#222;background:#f4f5f7}
header{background:#1f2d3d;color:#fff;padding:18px 32px 12px}
header h1{margin:0 0 4px;font-size:24px;font-weight:600}
header p{margin:0;color:#c9d3de;font-size:14px}
nav{margin-top:10px}nav a{color:#9fd0ff;margin-right:18px;font-size:13px;text-decoration:none}
main{max-width:1360px;margin:0 auto;padding:16px 24px 40px}
section{background:#fff;border-radius:8px;padding:16px 24px 20px;margin:16px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin:0 0 10px;font-size:20px;font-weight:600;color:#1f2d3d}
h3{margin:18px 0 8px;font-size:16px;color:#1f2d3d}
h4{margin:0 0 6px;font-size:15px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:24px;align-items:start}
figure{margin:0}figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figure.wide img{width:100%}
figcaption,.caption{font-size:13px;color:#555;margin-top:6px}
.muted{color:#777}.small{font-size:12px}
.warn{background:#fff4e0;border-left:4px solid #e69500;padding:8px 12px}
table{border-collapse:collapse;font-size:13.5px}
.facts th{text-align:left;color:#555;font-weight:500;padding:3px 14px 3px 0;vertical-align:top;
white-space:nowrap}
.facts td{padding:3px 0}
.compact th,.compact td{padding:4px 12px;border-bottom:1px solid #e5e5e5;text-align:right}
.compact th:first-child{text-align:left}
.scroll{max-height:640px;overflow:auto;border:1px solid #e3e3e3;border-radius:6px}
.strains{width:100%}
.strains thead th{position:sticky;top:0;background:#eef1f5;cursor:pointer;padding:6px 8px;
text-align:right;font-weight:600;font-size:12.5px;max-width:130px;vertical-align:bottom;
border-bottom:1px solid #ccd}
.strains thead th:nth-child(2){text-align:left}
.strains td{padding:5px 8px;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
.strains td:nth-child(2){text-align:left;min-width:300px;max-width:520px}
.strains td:nth-child(4){min-width:110px}
.strains tbody tr:hover{background:#f7fafc}
.taxon{display:block;font-weight:600;font-style:italic}
.lineage{display:block;font:11px/1.3 ui-monospace,Menlo,Consolas,monospace;color:#888;
word-break:break-word}
.feature{display:block;font-size:11px;color:#999}
.rho{display:block;font-size:11px;color:#888;margin-top:2px;white-space:nowrap}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
max-width:170px}
.pill.toward{background:#fbe3e0;color:#a93226}.pill.away{background:#dcebf6;color:#1f618d}
.pill.neutral{background:#eee;color:#666}
.bar{display:inline-block;width:60px;height:8px;background:#eee;border-radius:4px;margin-right:6px;
vertical-align:middle;overflow:hidden}.bar span{display:block;height:100%;background:#5d6d7e}
.glance{border-radius:6px;padding:10px 16px}
.glance.toward{background:#fdf1ef}.glance.away{background:#eef5fb}
.glance ol{margin:0;padding-left:22px}.glance li{margin:2px 0}
.files{columns:3;font-size:13px}
figure.waterfall{margin:12px 0}
@media (max-width:900px){.two{grid-template-columns:1fr}}
@media print{body{background:#fff}header{background:#fff;color:#000}header p{color:#333}
nav{display:none}main{max-width:none;padding:0}section{box-shadow:none;break-inside:auto}
.scroll{max-height:none;overflow:visible;border:0}
.strains thead th{position:static}.strains tr{break-inside:avoid}
.strains thead{display:table-header-group}figure{break-inside:avoid}}
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, i) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var up = th.dataset.order !== "asc";
      rows.sort(function (a, b) {
        var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        return up ? c : -c;
      });
      th.dataset.order = up ? "asc" : "desc";
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><header><h1>{title}</h1><p>{subtitle}</p><nav>{nav}</nav></header>
<main>
{body}
</main>
<script>{script}</script>
</body></html>
"""
