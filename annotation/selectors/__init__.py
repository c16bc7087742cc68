"""Reads (selectors), next to the writes in services/: the queries that the API and the pages share,
so no view builds its own queryset. One module per area."""
