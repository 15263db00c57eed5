"""DDP on two CPU processes (gloo): the distributed domain-balanced sampler splits the data."""

from __future__ import annotations

import json

import lightning as L
import pytest

from eegkit.data.datamodules.sleep import SleepDataModule
from eegkit.tasks.sleep_staging import SleepStagingTask
from tests._sleep_fixtures import corpus_domains


class RecordBatches(L.Callback):
    """Writes, per rank, the (recording, position) of every training item, per epoch."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.seen: dict[int, list] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        items = list(zip(batch["recording"].tolist(), batch["position"].tolist(), strict=True))
        self.seen.setdefault(trainer.current_epoch, []).append(
            {"items": items, "domains": sorted(set(batch["domain"].tolist())),
             "sampler": type(trainer.train_dataloader.batch_sampler).__name__})

    def on_train_end(self, trainer, pl_module):
        path = self.out_dir / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps({"world_size": trainer.world_size, "seen": self.seen}))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_two_rank_ddp_sees_disjoint_domain_balanced_batches(tiny_corpus, tmp_path):
    dm = SleepDataModule(corpus_domains(tiny_corpus), held_out=None, val_fraction=0.0,
                         batch_size=2, train_batches_per_epoch=2, seed=0)
    task = SleepStagingTask("chambon2018_seq", lr=1e-3)
    trainer = L.Trainer(
        # spawn, not fork: a fork after earlier tests ran torch ops hangs under OMP_NUM_THREADS=1
        strategy="ddp_spawn", accelerator="cpu", devices=2, max_epochs=2,
        use_distributed_sampler=False, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[RecordBatches(tmp_path)],
    )
    trainer.fit(task, dm)

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    for epoch in ("0", "1"):
        per_rank = []
        for r in ranks:
            batches = r["seen"][epoch]
            assert len(batches) == 2  # train_batches_per_epoch, the same on both ranks
            for b in batches:
                assert b["sampler"] == "DistributedDomainBalancedSampler"
                assert len(b["items"]) == 2 and len(b["domains"]) == 2  # one item per domain
            per_rank.append({tuple(i) for b in batches for i in b["items"]})
        assert per_rank[0] and per_rank[1]
        assert per_rank[0].isdisjoint(per_rank[1])
