"""Read what an offline W&B run recorded, for assertions: its ``run-<id>.wandb`` transaction log.

Offline runs keep config, summary and history only in that log (no wandb-summary.json),
so the tests parse it: a 7-byte W&B header, then LevelDB-log-format chunks (32 KiB
blocks; 7-byte chunk headers: crc32, length, type) that carry protobuf ``Record``s.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

BLOCK, CHUNK_HEADER, FILE_HEADER = 32768, 7, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    path: Path
    group: str = ""
    name: str = ""
    job_type: str = ""
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    history_keys: set = field(default_factory=set)
    exit_code: int | None = None


def _records(log_file: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = log_file.read_bytes()
    assert data[:4] == b":W&B", f"{log_file}: not a W&B transaction log"
    pos, buf = FILE_HEADER, b""
    while pos + CHUNK_HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + CHUNK_HEADER])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk = data[pos + CHUNK_HEADER : pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        buf = chunk if kind in (FULL, FIRST) else buf + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(buf)
            yield record


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(run_dir: Path) -> OfflineRun:
    (log_file,) = Path(run_dir).glob("run-*.wandb")
    run = OfflineRun(Path(run_dir))
    for record in _records(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.group, run.name, run.job_type = record.run.run_group, record.run.display_name, record.run.job_type
            run.config.update({_key(i): json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "history":
            run.history_keys.update(_key(i) for i in record.history.item)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def offline_runs(root: Path, patience_s: float = 60.0) -> list[OfflineRun]:
    """Every finished offline run below ``root`` (``.../wandb/offline-run-*``), oldest first.

    ``wandb.finish()`` returns before the wandb-core service has flushed the log to disk,
    so each run is re-read until its exit record is there (or ``patience_s`` runs out).
    """
    runs = []
    for run_dir in sorted(d for d in Path(root).rglob("offline-run-*") if d.is_dir()):
        deadline = time.monotonic() + patience_s
        run = read_offline_run(run_dir)
        while run.exit_code is None and time.monotonic() < deadline:
            time.sleep(0.2)
            run = read_offline_run(run_dir)
        runs.append(run)
    return runs
