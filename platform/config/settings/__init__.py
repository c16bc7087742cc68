"""Settings profiles: ``base`` (env-driven, also the embedded default), ``production``, ``test``."""
