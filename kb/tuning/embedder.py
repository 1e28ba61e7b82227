"""Tuning the embedding model on a company's own pairs (contrastive, in-batch and hard negatives).

The bi-encoder continues from the embedder in use and learns, for each query, to put its passage above the
other passages of the batch and above the query's hard negative (the multiple-negatives ranking loss of
sentence-transformers, written out here so the loop can be seeded, time-budgeted and resumed). A tuned
embedder changes every vector, so its candidate is a whole new index version: the current one's files plus
every passage re-embedded (:func:`reembed_version`), measured on held-out gold questions against the current
version before it may be published.

It is tuned only with gold questions: a query the documents imply (a heading, a title, a sentence) is part
of the very passage it should find, so retrieval on held-out document queries would measure nothing.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kb.embedding.protocol import Embedder
from kb.index.version import (
    CHUNKS_DB,
    DENSE,
    IDS,
    TUNED_EMBEDDER,
    VECTORS,
    fetch_chunks,
    link_version,
    load_ids,
    open_db,
)
from kb.index.writer import write_dense
from kb.judge.data import Pair
from kb.settings import Settings

log = logging.getLogger(__name__)

BATCH = 16  # queries per step: each sees the other 15 passages and every hard negative of the batch
SCALE = 20.0  # cosine -> logit, as sentence-transformers' MultipleNegativesRankingLoss
CHECKPOINT_EVERY = 20  # steps
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Triple:
    """A query, the passage that answers it and (when there is one) a passage that looks like it but does not."""

    query: str
    positive: str
    negative: str | None = None


def triples(pairs: list[Pair]) -> list[Triple]:
    """Each positive pair with its group's negatives (one triple per negative, or one without)."""
    groups: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for pair in pairs:
        pos, neg = groups.setdefault((pair.group, pair.question), ([], []))
        (pos if pair.label >= 0.5 else neg).append(pair.text)
    out = []
    for (_, query), (positives, negatives) in groups.items():
        for positive in dict.fromkeys(positives):
            out.extend(Triple(query, positive, n) for n in dict.fromkeys(negatives)) if negatives \
                else out.append(Triple(query, positive))
    return out


def train_embedder(base: str, data: list[Triple], work: Path, budget_minutes: float, seed: int = 0,
                   device: str = "cpu", progress: Progress | None = None, epochs: float = 2.0,
                   learning_rate: float = 2e-5) -> tuple[Path, dict]:
    """Fine-tune the sentence-transformers model at ``base`` on ``data``; returns the saved model folder and
    the training figures. Seeded; stops at the budget or after ``epochs``; ``work`` keeps the checkpoint, so
    the same call resumes an interrupted run."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    work.mkdir(parents=True, exist_ok=True)
    checkpoint, out = work / "embedder-checkpoint.pt", work / "embedder"
    model = SentenceTransformer(base, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    per_epoch = max(1, -(-len(data) // BATCH))
    planned = max(1, int(per_epoch * epochs))
    warmup = max(1, planned // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (planned - s) / max(1, planned - warmup)))
    state = {"step": 0, "seconds": 0.0, "losses": []}
    if checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        log.info("resuming embedder tuning at step %d of %d", state["step"], planned)

    def save() -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "state": state}, tmp)
        os.replace(tmp, checkpoint)

    def embed(texts: list[str]):
        features = {k: v.to(device) if hasattr(v, "to") else v for k, v in model.tokenize(texts).items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    model.train()
    started, deadline = time.monotonic(), time.monotonic() + budget_minutes * 60 - state["seconds"]
    while state["step"] < planned and time.monotonic() < deadline:
        epoch, b = divmod(state["step"], per_epoch)
        order = list(data)
        random.Random(seed * 7919 + epoch).shuffle(order)
        batch = order[b * BATCH:(b + 1) * BATCH]
        passages = [t.positive for t in batch] + [t.negative for t in batch if t.negative]
        scores = embed([t.query for t in batch]) @ embed(passages).T * SCALE
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch), device=scores.device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        state["step"] += 1
        state["losses"].append(round(loss.item(), 4))
        if progress is not None:
            progress("tune embedder", state["step"], planned)
        if state["step"] % CHECKPOINT_EVERY == 0:
            state["seconds"] += time.monotonic() - started
            started = time.monotonic()
            save()
    state["seconds"] += time.monotonic() - started
    save()
    model.eval()
    if out.exists():
        shutil.rmtree(out)
    model.save(str(out))
    losses = state["losses"]
    figures = {"step": state["step"], "planned_steps": planned, "triples": len(data),
               "pairs": state["step"] * BATCH, "budget_minutes": round(budget_minutes, 2),
               "trained_seconds": round(state["seconds"], 1),
               "loss_curve": [round(float(np.mean(losses[i:i + 10])), 4) for i in range(0, len(losses), 10)]}
    (out / "kb_tuning.json").write_text(json.dumps({"base": base, **figures}, indent=1), encoding="utf-8")
    return out, figures


def reembed_version(current: Path, tmp: Path, embedder: Embedder, model_folder: Path, settings: Settings,
                    progress: Progress | None = None) -> None:
    """Fill the empty folder ``tmp`` with a new version: ``current``'s files (hard links) with every vector made
    again by ``embedder`` (whose model folder is kept in the version, so later versions embed alike)."""
    link_version(current, tmp, {VECTORS, IDS, DENSE, TUNED_EMBEDDER})
    ids = load_ids(current)
    db = open_db(current) if (current / CHUNKS_DB).is_file() else None
    try:
        chunks = fetch_chunks(db, [int(i) for i in ids]) if db is not None else {}
    finally:
        if db is not None:
            db.close()
    texts = [chunks[int(i)].embed_text for i in ids]
    parts, step = [], max(1, settings.embedding_batch_size) * 8
    for start in range(0, len(texts), step):
        parts.append(embedder.encode(texts[start:start + step]))
        if progress is not None:
            progress("re-embed", min(len(texts), start + step), len(texts))
    vectors = np.vstack(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)
    write_dense(tmp, vectors.astype(np.float32), ids, settings)
    shutil.copytree(model_folder, tmp / TUNED_EMBEDDER)
