"""Profile store: schema (``models``), engine factory (``db``), queries (``repo``),
bulk import (``importer``) and deterministic demo data (``demo``)."""
