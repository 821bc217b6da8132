"""torchrun with 2 Gloo processes on the CPU: DDP training keeps identical weights on both ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "tests" / "gnn" / "ddp_worker.py"), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    a, b = ranks[0]["state"], ranks[1]["state"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and training did move the weights away from the seed's initial state
    from gnn.model import ModelConfig, RGCNRecModel

    torch.manual_seed(1)
    init = RGCNRecModel(ModelConfig(text_dim=16, hidden=8, out=8)).state_dict()
    assert not torch.equal(init["readout.weight"], a["readout.weight"])
