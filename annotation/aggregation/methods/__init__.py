"""One module per aggregation method. Each exposes ``DEFAULT_PARAMS``, ``check(params) -> params``
(value validation, ValueError) and ``run(data: CodedRatings, params) -> AggregationResult``."""
