from hybrid_retrieval.config import schema as _config_schema  # noqa: F401  (registers schema/* in Hydra's ConfigStore)
