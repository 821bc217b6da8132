"""FusedRGCNConv computes what PyG's RGCNConv(aggr="mean") computes, values and gradients."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import RGCNConv

from gnn.layers import FusedRGCNConv


@pytest.mark.parametrize("num_bases", [None, 3])
def test_fused_layer_matches_rgcnconv(num_bases):
    torch.manual_seed(0)
    n, e, r, d_in, d_out = 50, 400, 5, 12, 7
    x = torch.randn(n, d_in, requires_grad=True)
    edge_index = torch.randint(0, n, (2, e))
    edge_type = torch.randint(0, r - 1, (e,))  # relation r-1 has no edge at all
    pyg = RGCNConv(d_in, d_out, r, num_bases=num_bases, aggr="mean")
    fused = FusedRGCNConv(d_in, d_out, r, num_bases=num_bases)
    fused.load_state_dict(pyg.state_dict())
    with torch.no_grad():
        pyg.bias.normal_()  # non-zero bias, copied over too
        fused.bias.copy_(pyg.bias)
    want = pyg(x, edge_index, edge_type)
    got = fused(x, edge_index, edge_type)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    (gx_want,) = torch.autograd.grad(want.square().sum(), x)
    (gx_got,) = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(gx_got, gx_want, rtol=1e-4, atol=1e-5)
    gw_want = torch.autograd.grad(pyg(x, edge_index, edge_type).sum(), pyg.weight)[0]
    gw_got = torch.autograd.grad(fused(x, edge_index, edge_type).sum(), fused.weight)[0]
    torch.testing.assert_close(gw_got, gw_want, rtol=1e-4, atol=1e-5)
    # and the state dict goes back the other way
    assert set(fused.state_dict()) == set(pyg.state_dict())
