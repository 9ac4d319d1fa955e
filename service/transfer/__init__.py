"""Import and export of specialists, enterprises and demands (CSV, XLSX, JSON Lines), and export of engagements."""

from service.transfer.columns import TEMPLATES, Kind
from service.transfer.exporter import export
from service.transfer.importer import ImportReport, RowError, import_file, import_source
from service.transfer.readers import FileError, Format, open_records

__all__ = [
    "TEMPLATES",
    "FileError",
    "Format",
    "ImportReport",
    "Kind",
    "RowError",
    "export",
    "import_file",
    "import_source",
    "open_records",
]
