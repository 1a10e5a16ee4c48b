"""The peer (sentence-transformers) at its best on this hardware: which configurations a throughput
benchmark runs, and why.  A ratio against a peer's slow configuration says nothing, so the peer's
fastest documented configuration runs beside its default, chosen by whether bf16 is native here
(emulated bf16 on a CPU without AMX or AVX-512 BF16 is far slower than fp32)."""

from __future__ import annotations

from hybrid_retrieval.precision import native_bf16


def training_configs(device: str, peer_bf16: str = "auto") -> tuple[dict[str, list[str]], str]:
    """The peer trainer's runs (name -> extra arguments): its default, and ``bf16=True`` where bf16 is native
    (or when ``peer_bf16`` is ``always``); and a note saying why."""
    configs = {"default (fp32)": []}
    native = native_bf16(device)
    if peer_bf16 == "always" or (peer_bf16 == "auto" and native):
        configs["bf16=True"] = ["--st-bf16"]
    if native:
        note = f"bf16 is native on this {device}: the peer's fastest documented configuration is bf16=True"
    else:
        note = (
            "bf16 is not native on this CPU (no AMX, no AVX-512 BF16): it is emulated and slower than fp32, so the "
            "peer's fastest documented configuration here is its fp32 default"
            + ("" if "bf16=True" in configs else " (bf16=True not run; --peer-bf16 always runs it)")
        )
    return configs, note


def encoding_batches(batch_size: int) -> list[int]:
    """The peer's default batch (32), ours, and 128 (where large batches pay, e.g. a GPU), each once."""
    return list(dict.fromkeys((32, batch_size, 128)))


def encoding_configs(device: str, peer_bf16: str = "auto", batch_size: int = 32) -> tuple[dict[str, list[str]], str]:
    """``SentenceTransformer.encode``'s runs: its default, and its fastest documented configuration on this
    device (a bf16 model where native, else fp32 at larger batches); and a note saying why."""
    configs = {"default (fp32, batch 32)": ["--st-batch-size=32"]}
    native = native_bf16(device)
    if peer_bf16 == "always" or (peer_bf16 == "auto" and native):
        for batch in encoding_batches(batch_size):  # either may be the faster
            configs[f"bf16 model, batch {batch}"] = ["--st-bf16", f"--st-batch-size={batch}"]
    if len(configs) == 1 or peer_bf16 == "always":  # without a bf16 run, fp32 at a larger batch is the candidate
        for batch in encoding_batches(batch_size)[1:]:
            configs[f"fp32, batch {batch}"] = [f"--st-batch-size={batch}"]
    note = (
        f"bf16 is native on this {device}: the peer's fastest documented configuration is a bf16 model"
        if native
        else "bf16 is not native on this CPU (no AMX, no AVX-512 BF16): it is emulated and slower than fp32, so the "
        "peer's fastest documented configuration here is fp32 (run at its default batch and larger)"
        + ("" if peer_bf16 == "always" else "; a bf16 model not run (--peer-bf16 always runs it)")
    )
    return configs, note
