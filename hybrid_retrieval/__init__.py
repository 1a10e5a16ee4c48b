from hybrid_retrieval import config_schema as _config_schema  # noqa: F401  (registers schema/* in Hydra's ConfigStore)
