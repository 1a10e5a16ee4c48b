"""Running one job: train, evaluate, checkpoints and resume, status, tracking, DDP launch, progress lines."""
