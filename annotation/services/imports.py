"""Content import (issue: foundation). Placeholder until the import service lands."""


def items_import_job(*, job, progress):
    raise NotImplementedError("import_items is not implemented yet")
