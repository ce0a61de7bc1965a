"""Reports of an explanation or a validation: tables and one self-contained HTML page."""

from mlmicro.report.render import REPORT_FILE, render_html, write_report, write_tables
from mlmicro.report.validation import VALIDATION_FILE, write_validation_report

__all__ = [
    "REPORT_FILE",
    "VALIDATION_FILE",
    "render_html",
    "write_report",
    "write_tables",
    "write_validation_report",
]
