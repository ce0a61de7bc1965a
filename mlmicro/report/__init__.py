"""Reports of an explanation: tables and one self-contained HTML page; rendering only."""

from mlmicro.report.render import REPORT_FILE, render_html, write_report, write_tables

__all__ = ["REPORT_FILE", "render_html", "write_report", "write_tables"]
