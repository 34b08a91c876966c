"""Training and inference batch samplers: seeded epochs, step structure, length buckets, rank shards."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sentiloc.data.sampler import EpochBatchSampler, LengthBucketSampler, epoch_order, length_buckets


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    assert epoch_order(10, 3, 1) == epoch_order(10, 3, 1)
    assert sorted(epoch_order(10, 3, 1)) == list(range(10))
    assert epoch_order(10, 3, 1) != epoch_order(10, 3, 2) and epoch_order(10, 3, 1) != epoch_order(10, 4, 1)


def test_steps_cut_the_epoch_into_batches_and_micro_batches() -> None:
    sampler = EpochBatchSampler(7, batch_size=3, micro_batch=2, seed=0)
    sampler.set_epoch(2)
    order = epoch_order(7, 0, 2)
    assert [sum(step, []) for step in sampler.steps()] == [order[0:3], order[3:6], order[6:7]]
    assert [[len(m) for m in step] for step in sampler.steps()] == [[2, 1], [2, 1], [1]]
    assert sampler.step_sizes() == [3, 3, 1]
    assert list(sampler) == [m for step in sampler.steps() for m in step] and len(sampler) == 5


def test_micro_batches_group_similar_lengths_within_a_step() -> None:
    lengths = [100, 5, 90, 6, 80, 7, 95, 4]
    sampler = EpochBatchSampler(8, batch_size=4, micro_batch=2, seed=1, lengths=lengths)
    for step in sampler.steps():
        flat = sum(step, [])
        assert [lengths[i] for i in flat] == sorted(lengths[i] for i in flat)


@given(n=st.integers(1, 30), batch=st.integers(1, 8), world=st.integers(1, 4), seed=st.integers(0, 3))
def test_ranks_share_every_step_exactly(n: int, batch: int, world: int, seed: int) -> None:
    single = EpochBatchSampler(n, batch, 1, seed).steps()
    shards = [EpochBatchSampler(n, batch, 1, seed, rank=r, world_size=world).steps() for r in range(world)]
    for k, step in enumerate(single):
        together = sorted(i for shard in shards for m in shard[k] for i in m)
        assert together == sorted(sum(step, []))


def test_inference_batches_are_length_buckets() -> None:
    assert length_buckets([3.0, 1.0, 2.0, 5.0], 2) == [[1, 2], [0, 3]]
    assert list(LengthBucketSampler([3.0, 1.0, 2.0], 1)) == [[1], [2], [0]]
