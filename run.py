"""Hydra entry point: python run.py [-m] key=value ...  (see README.md)."""
import hydra
from omegaconf import DictConfig

import hybrid_retrieval.resolvers  # noqa: F401


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from hybrid_retrieval.train import train

    metrics = train(cfg)
    return metrics.get("xquad_r/multi/map")


if __name__ == "__main__":
    main()
