"""torch_masks draws exactly the masks torch's CPU ``bernoulli_`` draws, and leaves torch's generator where it would."""
import pytest
import torch

from hybrid_retrieval.model import torch_masks


def _reference(shape, p, dtype=torch.float32):
    return torch.nn.functional.dropout(torch.ones(shape, dtype=dtype), p, training=True) != 0


def test_fast_path_is_active_on_this_build():
    assert torch_masks.available()  # else every test below compares torch with itself


@pytest.mark.parametrize("shape,p,pre_draws", [
    ((1,), 0.1, 0),            # the first draw after seeding twists the state
    ((311,), 0.1, 1),          # odd word alignment: elements straddle the twist
    ((312,), 0.5, 0),          # exactly one state block
    ((4, 12, 33, 33), 0.1, 3),  # attention-probability shape, several blocks
    ((2, 5, 7), 0.9, 2),
])
def test_masks_and_generator_state_equal_torchs(shape, p, pre_draws):
    torch.manual_seed(123)
    if pre_draws:
        torch.rand(pre_draws)  # one 32-bit word each
    start = torch.get_rng_state()
    ours = torch_masks.keep_mask_like_torch(shape, p)
    ours_next = torch.rand(3)
    torch.set_rng_state(start)
    theirs = _reference(shape, p)
    theirs_next = torch.rand(3)
    assert ours.dtype == torch.bool and ours.shape == theirs.shape
    assert torch.equal(ours, theirs)
    assert torch.equal(ours_next, theirs_next)  # the generator continues identically


def test_keep_rate_and_seed_dependence():
    torch.manual_seed(1)
    a = torch_masks.keep_mask_like_torch((200_000,), 0.1)
    torch.manual_seed(2)
    b = torch_masks.keep_mask_like_torch((200_000,), 0.1)
    assert abs(a.float().mean().item() - 0.9) < 0.005
    assert (a != b).float().mean().item() > 0.1  # another seed, another mask


def test_draws_do_not_depend_on_the_dtype_dropout_sees():
    torch.manual_seed(5)
    ours = torch_masks.keep_mask_like_torch((3, 100), 0.1, torch.bfloat16)
    torch.manual_seed(5)
    assert torch.equal(ours, _reference((3, 100), 0.1, torch.bfloat16))


def test_fallback_draws_with_torch_when_the_check_fails(monkeypatch):
    monkeypatch.setattr(torch_masks, "_verified", False)
    monkeypatch.setattr(torch_masks, "_fast_keep", lambda *a: pytest.fail("fast path used after a failed check"))
    torch.manual_seed(9)
    ours = torch_masks.keep_mask_like_torch((50,), 0.1)
    torch.manual_seed(9)
    assert torch.equal(ours, _reference((50,), 0.1))


def test_empty_shape_draws_nothing():
    torch.manual_seed(4)
    start = torch.get_rng_state()
    assert torch_masks.keep_mask_like_torch((0, 3), 0.1).shape == (0, 3)
    assert torch.equal(start, torch.get_rng_state())
