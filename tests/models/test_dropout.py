import pytest
import torch
from torch import nn

from avvp.models.dropout import Dropout, dropout


def test_keep_rate_and_scale_match_nn_dropout_statistics() -> None:
    torch.manual_seed(0)
    x = torch.ones(400_000)
    out = dropout(x, 0.2, True)
    kept = out != 0
    # Binomial(4e5, 0.8): standard deviation of the kept fraction is 6.3e-4.
    assert abs(kept.float().mean().item() - 0.8) < 4e-3
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1.25))
    reference = nn.Dropout(0.2).train()(x)
    assert abs((reference != 0).float().mean().item() - kept.float().mean().item()) < 6e-3


def test_backward_uses_the_forward_mask() -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 10, 32, requires_grad=True)
    out = dropout(x, 0.3, True)
    grad = torch.randn_like(out)
    out.backward(grad)
    keep = out.detach() != 0
    assert x.grad is not None
    torch.testing.assert_close(x.grad, grad * keep / 0.7)
    torch.testing.assert_close(out.detach(), x.detach() * keep / 0.7)


def test_gradcheck_in_double() -> None:
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)

    def fn(t: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(3)  # the same mask on every evaluation
        return dropout(t, 0.4, True)

    assert torch.autograd.gradcheck(fn, (x,))


def test_eval_mode_zero_and_one() -> None:
    x = torch.randn(3, 4)
    module = Dropout(0.5).eval()
    assert module(x) is x
    assert module.state_dict() == {}  # drop-in for nn.Dropout: checkpoints are unchanged
    assert "p=0.5" in repr(module)
    assert dropout(x, 0.0, True) is x
    assert torch.equal(dropout(x, 1.0, True), torch.zeros_like(x))
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="dropout probability"):
        dropout(x, -0.1, True)


def test_seeded_masks_are_reproducible_and_bf16_keeps_p() -> None:
    x = torch.ones(200_000, dtype=torch.bfloat16)
    torch.manual_seed(7)
    a = dropout(x, 0.2, True)
    torch.manual_seed(7)
    b = dropout(x, 0.2, True)
    assert torch.equal(a, b)
    assert a.dtype == torch.bfloat16
    assert abs((a != 0).float().mean().item() - 0.8) < 5e-3
