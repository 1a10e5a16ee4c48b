"""The MIRACL passage corpus, once per machine: fetched from a pinned hub revision, verified, kept as parquet.

A language missing from the data root is fetched on first use into ``<root>/miracl/corpus/<lang>/``:

- the shard list comes from the hub's metadata for the pinned revision
  (:data:`~hybrid_retrieval.data.miracl_manifest.REVISION`): each ``docs-<n>.jsonl.gz`` with its size and the
  sha256 of its LFS content, as the hub reports them (no checksum is written down here: see the manifest);
- each shard is downloaded (progress lines), checked against that size and sha256, converted to
  ``docs-<n>.parquet`` (columns docid, title, text; row groups a job reads in batches) and renamed into
  place; the ``.jsonl.gz`` is not kept. A fetch cut short resumes at the first shard not yet converted;
- ``manifest.json``, written last, says the language is complete (revision, shards, sha256, passages).

All of it under a lock per language, so the jobs of a sweep that start together fetch it once and the
others wait. The origin is ``$HF_ENDPOINT`` (default https://huggingface.co) or the benchmark's
``hub_endpoint`` key, which is how the tests serve generated shards from 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from hybrid_retrieval.data.formats.miracl import HUB_CORPUS_FOLDER, natural_key
from hybrid_retrieval.data.formats.passages import Passage, iter_passages
from hybrid_retrieval.data.miracl_manifest import HUB_ENDPOINT, HUB_REPO, REVISION
from hybrid_retrieval.files import replaced_atomically, write_atomically

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
COLUMNS = ("docid", "title", "text")
ROW_GROUP = 8192


def corpus_dir(root: str | Path, lang: str) -> Path:
    """Where a language's parquet shards live under the data root."""
    return Path(root) / "miracl" / "corpus" / lang


def endpoint(override: str | None = None) -> str:
    return (override or os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT).rstrip("/")


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a complete local copy, else None (a fetch not finished, or nothing there)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if all((Path(folder) / s["parquet"]).is_file() for s in manifest["shards"]):
        return manifest
    return None


@dataclass(frozen=True)
class Shard:
    name: str  # docs-<n>.jsonl.gz
    size: int
    sha256: str  # of the file's content, as the hub's LFS metadata reports it
    url: str

    @property
    def parquet(self) -> str:
        return self.name.split(".", 1)[0] + ".parquet"


def list_shards(
    lang: str, repo: str = HUB_REPO, revision: str = REVISION, hub_endpoint: str | None = None, timeout_s: float = 15.0
) -> list[Shard]:
    """The language's shards at ``revision``, from the hub's tree API (size and LFS sha256 of each file)."""
    base, folder = endpoint(hub_endpoint), HUB_CORPUS_FOLDER.format(lang=lang)
    url = f"{base}/api/datasets/{repo}/tree/{revision}/{folder}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            entries = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise OSError(f"cannot list {url}: {getattr(err, 'reason', err)}") from None
    shards = []
    for entry in entries:
        path = entry.get("path", "")
        if entry.get("type") != "file" or not path.endswith(".jsonl.gz"):
            continue
        lfs = entry.get("lfs") or {}
        if not lfs.get("oid"):
            raise OSError(f"{url}: {path} has no LFS sha256 in the hub's metadata; it cannot be verified")
        quoted = urllib.parse.quote(path)
        shards.append(
            Shard(
                Path(path).name,
                int(lfs.get("size", entry.get("size"))),
                lfs["oid"],
                f"{base}/datasets/{repo}/resolve/{revision}/{quoted}",
            )
        )
    if not shards:
        raise OSError(f"{url}: no {folder}/*.jsonl.gz at revision {revision}")
    return sorted(shards, key=lambda s: natural_key(Path(s.name)))


def ensure_corpus(
    root: str | Path, lang: str, repo: str = HUB_REPO, revision: str = REVISION, hub_endpoint: str | None = None
) -> Path:
    """``<root>/miracl/corpus/<lang>/``, fetched first if not complete (once per machine, under a lock)."""
    dest = corpus_dir(root, lang)
    if read_manifest(dest) is not None:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / f".{lang}.lock")):
        if read_manifest(dest) is not None:  # another job fetched it while we waited
            return dest
        shards = list_shards(lang, repo, revision, hub_endpoint)
        todo = [s for s in shards if not (dest / s.parquet).is_file()]
        need = 3 * sum(s.size for s in todo)  # the .jsonl.gz while it converts, and the parquet (about 2x)
        free = shutil.disk_usage(dest).free
        if need > free:
            raise OSError(f"MIRACL corpus {lang}: {need / 1e9:.1f} GB needed in {dest}, {free / 1e9:.1f} GB free")
        log.info(
            "MIRACL corpus %s: %d shards (%.1f MB) from %s@%s, %d already here",
            lang,
            len(shards),
            sum(s.size for s in shards) / 1e6,
            repo,
            revision[:12],
            len(shards) - len(todo),
        )
        records = []
        for i, shard in enumerate(shards, 1):
            if shard in todo:
                _fetch_shard(shard, dest, f"miracl/corpus/{lang}/{shard.name}")
            n = _rows(dest / shard.parquet)
            log.info("MIRACL corpus %s: shard %d/%d %s verified, %d passages", lang, i, len(shards), shard.name, n)
            records.append(
                {
                    "name": shard.name,
                    "size": shard.size,
                    "sha256": shard.sha256,
                    "parquet": shard.parquet,
                    "passages": n,
                }
            )
        manifest = {
            "repo": repo,
            "revision": revision,
            "lang": lang,
            "shards": records,
            "passages": sum(r["passages"] for r in records),
        }
        write_atomically(dest / MANIFEST, json.dumps(manifest, indent=1))
    return dest


def _fetch_shard(shard: Shard, dest: Path, relpath: str) -> None:
    from hybrid_retrieval.data.download import RemoteFile, _download_checked

    gz = dest / f".download-{shard.name}"  # ends in .gz: the reader gunzips by suffix
    _download_checked(RemoteFile(relpath, shard.url, shard.sha256), gz)  # streamed, progress lines, sha256 checked
    try:
        if gz.stat().st_size != shard.size:
            raise OSError(f"{relpath}: {gz.stat().st_size} bytes downloaded, the hub lists {shard.size}")
        with replaced_atomically(dest / shard.parquet, suffix=".parquet") as tmp:
            write_parquet(iter_passages([gz], "docid"), tmp)
    finally:
        gz.unlink(missing_ok=True)


def write_parquet(passages: Iterator[Passage], path: Path) -> int:
    """Passages into one parquet file, ``ROW_GROUP`` rows at a time (never the whole shard in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    n, cols = 0, {c: [] for c in COLUMNS}
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        for p in passages:
            cols["docid"].append(p.docid), cols["title"].append(p.title), cols["text"].append(p.text)
            if len(cols["docid"]) == ROW_GROUP:
                writer.write_table(pa.table(cols, schema=schema))
                n += ROW_GROUP
                cols = {c: [] for c in COLUMNS}
        if cols["docid"] or n == 0:
            writer.write_table(pa.table(cols, schema=schema))
            n += len(cols["docid"])
    return n


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(str(path)).metadata.num_rows


@dataclass(frozen=True)
class ParquetCorpus:
    """A local MIRACL language in parquet shards, streamed in ``(docids, "title text")`` chunks."""

    files: tuple[Path, ...]
    description: str
    identity: str  # sha256 of the pinned shards it was made from: what its embeddings are keyed by

    @classmethod
    def from_dir(cls, folder: Path) -> ParquetCorpus:
        manifest = read_manifest(folder)
        if manifest is None:
            raise FileNotFoundError(f"{folder}: no complete MIRACL corpus (no {MANIFEST})")
        ident = hashlib.sha256(json.dumps([(s["name"], s["sha256"]) for s in manifest["shards"]]).encode())
        return cls(
            tuple(folder / s["parquet"] for s in manifest["shards"]),
            f"{folder} ({manifest['repo']}@{manifest['revision'][:12]})",
            ident.hexdigest(),
        )

    def __len__(self) -> int:
        return sum(_rows(f) for f in self.files)

    def fingerprint(self) -> str:
        return self.identity

    def docids(self) -> Iterator[str]:
        import pyarrow.parquet as pq

        for f in self.files:
            for batch in pq.ParquetFile(str(f)).iter_batches(batch_size=65536, columns=["docid"]):
                yield from batch.column(0).to_pylist()

    def batches(self, size: int, skip: int = 0) -> Iterator[tuple[list[str], list[str]]]:
        """Chunks of ``size`` passages (the last one shorter), from passage ``skip`` on (whole files skipped
        by their row counts, without reading them)."""
        import pyarrow.parquet as pq

        ids: list[str] = []
        texts: list[str] = []
        for f in self.files:
            pf = pq.ParquetFile(str(f))
            if skip >= pf.metadata.num_rows:
                skip -= pf.metadata.num_rows
                continue
            for batch in pf.iter_batches(batch_size=min(size, 65536), columns=list(COLUMNS)):
                docid, title, text = (batch.column(i).to_pylist() for i in range(3))
                if skip:
                    cut = min(skip, len(docid))
                    docid, title, text, skip = docid[cut:], title[cut:], text[cut:], skip - cut
                for d, ti, te in zip(docid, title, text):
                    ids.append(d)
                    texts.append(Passage(d, ti or "", te or "").as_text())
                    if len(ids) == size:
                        yield ids, texts
                        ids, texts = [], []
        if ids:
            yield ids, texts
