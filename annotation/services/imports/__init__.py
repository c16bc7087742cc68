"""Content import: a manifest (CSV or JSONL) plus media files become Items of a campaign. One module per concern:
manifest.py (A), database.py (B, E), probing.py (C), storage.py (D), intake.py (zips and server folders),
pipeline.py (the phases in order, and the job runner).

All or nothing. The import runs in phases and stops at the first bad row with ONE line that names the
manifest line, the item_id and the problem:

  A. read the manifest (streamed) and check every row's fields and media path (no file is opened);
  B. look up, in bulk, item_ids already in the campaign and generator names already used for the
     other media type;
  C. probe every file (Pillow verify + full decode, PyAV first frame), hash it, and make its
     thumbnail / poster frame in a local temp folder;
  D. store each distinct file and thumbnail, content-addressed (services/media.py);
  E. write generators, prompts and items in ONE transaction with bulk_create in chunks.

D and E run one import at a time (an advisory lock; B is repeated under it), so concurrent imports
cannot remove each other's files or collide on item_ids half-way.

Nothing touches storage or the database before every row has passed A-C. If D or E fails, the files
D created are removed again unless an item (of an earlier import) already uses them.

Decisions taken where several behaviours were possible:
- a generator name belongs to one media type; a name used for images and videos is an error (the
  row names the clash), since model-level metrics group by generator;
- a prompt is found by the sha256 of its stripped text; an existing prompt keeps its category (the
  first import that names one sets it);
- the same file under several item_ids is allowed and stored once.
"""

from .intake import MANIFEST_NAMES, archive_check, archive_extract, archive_store, server_path_resolve
from .manifest import REQUIRED_COLUMNS, Row, manifest_records, resolve_media_path
from .pipeline import items_import, items_import_job
from .storage import WRITE_LOCK_KEY, media_remove_unused, media_write_lock

__all__ = [
    "MANIFEST_NAMES",
    "REQUIRED_COLUMNS",
    "WRITE_LOCK_KEY",
    "Row",
    "archive_check",
    "archive_extract",
    "archive_store",
    "items_import",
    "items_import_job",
    "manifest_records",
    "media_remove_unused",
    "media_write_lock",
    "resolve_media_path",
    "server_path_resolve",
]
