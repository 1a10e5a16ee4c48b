"""Fetch the benchmark files from their public origins, checked by sha256.

Offline users point the data root at a copy instead; both routes give the same
bytes, which is why every file is pinned to a commit and a checksum.

A job fetches a missing file on first use (:func:`require_file`, policy
``paths.download=auto``): streamed into a temp file beside its destination with
a progress bar, checked against its sha256, renamed into place, all under a
per-file lock so that the jobs of a sweep download it once. ``never`` keeps the
old behaviour (an error that says how to provide the file). Ahead of time:

    python -m hybrid_retrieval.data.download [--root DIR] [--only xquad-r mlqa-r]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from hybrid_retrieval.files import DATA_ENV as ENV_VAR
from hybrid_retrieval.files import DATA_ROOT_DEFAULT as DEFAULT_ROOT
from hybrid_retrieval.files import replaced_atomically, resolve_root, sha256_of
from hybrid_retrieval.progress import phase

log = logging.getLogger(__name__)

POLICY_ENV_VAR = "HYBRID_RETRIEVAL_DOWNLOAD"  # default of paths.download: auto | never
POLICIES = ("auto", "never")
TIMEOUT_S = 15.0  # per connect / read: with no network a job fails within seconds, not minutes

_LAREQA = "https://raw.githubusercontent.com/google-research-datasets/lareqa"
_XQUAD_COMMIT = "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c"
_MLQA_COMMIT = "354d67d1cd066854cdfbf5ad0e6105528976141d"  # MLQA-R was removed upstream after this commit


@dataclass(frozen=True)
class RemoteFile:
    relpath: str  # path under the data root
    url: str
    sha256: str


def _lareqa(folder: str, commit: str, checksums: dict[str, str]) -> list[RemoteFile]:
    return [
        RemoteFile(f"{folder}/{lang}.json", f"{_LAREQA}/{commit}/{folder}/{lang}.json", sha)
        for lang, sha in checksums.items()
    ]


DATASETS: dict[str, list[RemoteFile]] = {
    "xquad-r": _lareqa(
        "xquad-r",
        _XQUAD_COMMIT,
        {
            "ar": "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d",
            "de": "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
            "el": "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6",
            "en": "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
            "es": "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de",
            "hi": "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872",
            "ru": "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1",
            "th": "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
            "tr": "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94",
            "vi": "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995",
            "zh": "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed",
        },
    ),
    "mlqa-r": _lareqa(
        "mlqa-r",
        _MLQA_COMMIT,
        {
            "ar": "2132fbc03208535c0fe01f2e2c5121d06f9c2aa799af93b0a719dbc105bdf137",
            "de": "ce9454dc5aa6f2d85c23cd6e49cb367fbb7c4c6e62d7f71e355c6b5dae4d0886",
            "en": "fedd9a5cc0848dda80caf84aa36f482adaae230526a3f6e9e86926a93ef3b1e4",
            "es": "70ecba276b8c96a692b120693a595d076ce94ad21d4b28311538a9fcbfe0f9d7",
            "hi": "4dd0fb3c06f737a5481d705bc1dcac7876712a5815c9265908fbb3a0696cb654",
            "vi": "9d3baff6ba03e6793b25594217265ea59a136b9733833dca8a9582a84a78ff85",
            "zh": "57f01d2fff50cf3392805635b01445339f225ad5bf28ba8443b12f8dbd1e69dc",
        },
    ),
}

# TyDi QA GoldP v1.1 per language: a split of the official files (google-research-datasets/tydiqa)
# that keeps their records as they are (see the data root's tydiqa-goldp/SOURCE.txt)
_TYDI = "https://raw.githubusercontent.com/sagorbrur/tydiqa-language-specific/55c6649475e0765f717a6d32a173c6664096a8ce"
_TYDI_SHA256 = {
    "dev/arabic": "a53ebb2db172c0e391d2fe499c43ba342d33992cf7bb28733b47147a2057574c",
    "dev/bengali": "548ef1e26217481aca1a304713350bc4bebb8c0084092ca1c5520a067dede71c",
    "dev/english": "0a79feb66a13d4e5df8a5e1e8ad40b4a2d6622be6816c2914863b495cf0ee3e4",
    "dev/finnish": "df0bbe1dc355b33e003728f7408ed47f3403ec3ba50eca35ea58f5c98930cdee",
    "dev/indonesian": "f77d7d241ae86fe87d2ae2224bd4f52c50d47a380d3febd39a4e379d37789432",
    "dev/korean": "9bbdc6aa944f7c632eb4b56f9e291d178a4a6c18645c84c2da52604a84a14ed0",
    "dev/russian": "bcc3d154713c26bd9a6c735087c76cb45f2d39e01b95a0d07ba07503c8737e85",
    "dev/swahili": "0846933d9b60f1f7532b32641efccecc9ada29bafef5a87c26e740046c858ac9",
    "dev/telugu": "373255d29d0bbaec24153041ceab057ea99a472fd18eaa3514233abab2074920",
    "train/english": "ab4317b6f2fcf3367e8890226631deaf3af283ffb5a878fc54ebb0d6b2afe377",
    "train/korean": "59146463f1f6017dba48bed9ca16148d31d34692172b59ba65859e8e327ee0c0",
    "train/swahili": "dfeedb0903de73e3cca9294358dd399dcc4d642805a72871a364814ba1dcb27d",
}
DATASETS["tydiqa-goldp"] = [
    RemoteFile(
        f"tydiqa-goldp/{key}_tydiqa_{key.split('/')[0]}.json",
        f"{_TYDI}/language_data/{key.split('/')[1]}/{key.split('/')[1]}_tydiqa_{key.split('/')[0]}.json",
        sha,
    )
    for key, sha in _TYDI_SHA256.items()
]

from hybrid_retrieval.data.miracl_checksums import MIRACL_ORIGIN, MIRACL_SHA256  # noqa: E402  (pure data)

DATASETS["miracl"] = [
    RemoteFile(rel, f"{MIRACL_ORIGIN}/{rel.split('/', 1)[1]}", sha) for rel, sha in MIRACL_SHA256.items()
]


class DataNotFoundError(FileNotFoundError):
    """A benchmark file is missing; the message says both ways to provide it."""


class ChecksumMismatchError(OSError):
    """A downloaded file is not the pinned one; nothing of it is kept."""


_policy: str | None = None  # set per job from paths.download (set_policy); None: env var, else auto
_unreachable: str | None = None  # the first network failure of this process: later files fail at once


def set_policy(policy: str | None) -> None:
    """``auto``: fetch a missing known file on first use; ``never``: fail with the error that says how."""
    global _policy
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"paths.download={policy!r}: must be one of {list(POLICIES)}")
    _policy = policy


def policy() -> str:
    chosen = _policy or os.environ.get(POLICY_ENV_VAR) or "auto"
    if chosen not in POLICIES:
        raise ValueError(f"${POLICY_ENV_VAR}={chosen!r}: must be one of {list(POLICIES)}")
    return chosen


def remote_for(relpath: str) -> RemoteFile | None:
    """The pinned origin of a file under the data root, if we know one."""
    for files in DATASETS.values():
        for remote in files:
            if remote.relpath == relpath:
                return remote
    return None


def require_file(root: Path, relpath: str) -> Path:
    """Return ``root/relpath``, downloading it first if it is missing, known and the policy allows.

    Fails with an error that says how to provide the file when it cannot be had
    (policy ``never``, no pinned origin, no network, a read-only data root).
    """
    path = Path(root) / relpath
    if path.is_file():
        return path
    remote = remote_for(relpath)
    if remote is None or policy() == "never":
        raise DataNotFoundError(_missing(root, relpath))
    try:
        return fetch(remote, Path(root), verify_existing=False)
    except ChecksumMismatchError:
        raise
    except OSError as err:
        raise DataNotFoundError(f"{_missing(root, relpath)}\n  (automatic download failed: {err})") from None


def _missing(root: Path, relpath: str) -> str:
    dataset = relpath.split("/", 1)[0]
    return (
        f"missing data file {Path(root) / relpath}\n"
        f"  provide it in one of two ways:\n"
        f"  - download it: python -m hybrid_retrieval.data.download --root {root} --only {dataset}\n"
        f"  - or point the data root at a copy that has {relpath}: "
        f"export {ENV_VAR}=/path/to/data  or  paths.data_dir=/path/to/data"
    )


def fetch(remote: RemoteFile, root: Path, verify_existing: bool = True) -> Path:
    """Download one file unless it is there (with the pinned checksum, if ``verify_existing``).

    Under a lock beside the file, so concurrent jobs download it once and the
    others wait for it; into a temp file renamed into place only once its sha256
    matches, so nobody ever reads a partial or wrong file.
    """
    dest = Path(root) / remote.relpath
    if dest.is_file() and not verify_existing:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / f".{dest.name}.lock")):
        if dest.is_file() and (not verify_existing or sha256_of(dest) == remote.sha256):
            return dest  # already there, or another job fetched it while we waited
        _download_checked(remote, dest)
    return dest


def _download_checked(remote: RemoteFile, dest: Path) -> None:
    global _unreachable
    if _unreachable is not None:
        raise OSError(f"cannot reach {remote.url}: {_unreachable} (network failed earlier in this process)")
    try:
        response = urllib.request.urlopen(remote.url, timeout=TIMEOUT_S)
    except (TimeoutError, urllib.error.URLError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        if not isinstance(err, urllib.error.HTTPError):
            _unreachable = str(reason)
        raise OSError(f"cannot download {remote.url}: {reason}") from None
    digest = hashlib.sha256()
    with response, replaced_atomically(dest) as tmp, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with phase(f"download {remote.relpath}", total=total, unit="B", every_s=5.0, logger=log) as bar:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
        if digest.hexdigest() != remote.sha256:
            raise ChecksumMismatchError(
                f"{remote.relpath}: the file downloaded from {remote.url} has sha256 {digest.hexdigest()}, "
                f"not the pinned {remote.sha256}; nothing was kept. The transfer was corrupted or the origin "
                f"changed: retry, or provide a verified copy under the data root ({ENV_VAR} or paths.data_dir)"
            )
        out.flush()
        os.fsync(out.fileno())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help=f"data root (default: ${ENV_VAR} or {DEFAULT_ROOT})")
    parser.add_argument("--only", nargs="*", choices=sorted(DATASETS), help="datasets to fetch (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress lines when not on a terminal
    root = resolve_root(args.root)
    for name in args.only or sorted(DATASETS):
        for remote in DATASETS[name]:
            print(f"{remote.relpath} ... ", end="", flush=True)
            fetch(remote, root)
            print("ok")
    print(f"data root: {root}   (export {ENV_VAR}={root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
