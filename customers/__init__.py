"""The customer data hub: CSV import through saved mappings, duplicates, merge, quality.

The UI, the CLI and the tests call these functions; each lives in a module of its own.
"""

from customers.errors import CustomerError, ImportError_, MappingError
from customers.hub import Hub, default_hub_path, open_hub
from customers.importer import ImportResult, import_csv
from customers.mapping import FieldMap, Mapping, OnError, parse_mapping, to_spec
from customers.preview import preview
from customers.rejects import export_rejects
from customers.saved_mappings import get_mapping, list_mappings, save_mapping
from customers.sniff import CsvFormat, sniff

__all__ = [
    "CsvFormat",
    "CustomerError",
    "FieldMap",
    "Hub",
    "ImportError_",
    "ImportResult",
    "Mapping",
    "MappingError",
    "OnError",
    "default_hub_path",
    "export_rejects",
    "get_mapping",
    "import_csv",
    "list_mappings",
    "open_hub",
    "parse_mapping",
    "preview",
    "save_mapping",
    "sniff",
    "to_spec",
]
