"""The named seed streams (diffgen_lib.seeds)."""

import numpy as np

from diffgen_lib import seeds


def test_stream_seeds_are_base_plus_set_times_stride_plus_item():
    s = seeds.Stream(base=100, stride=1000)
    assert s.seed() == 100 and s.seed(2, 5) == 2105
    assert s.seeds(3, 2) == [2100, 2101, 2102]
    assert s.seeds(2, 1, start=10) == [1110, 1111]


def test_the_sets_of_a_stream_never_share_a_seed_and_the_streams_are_apart():
    per_image = [seeds.SAMPLES, seeds.GUIDED_SAMPLES, seeds.GAUSSIAN, seeds.EVALUATION_NOISE]
    for stream in per_image:
        a, b = set(stream.seeds(1000, 0)), set(stream.seeds(1000, 1))
        assert len(a) == 1000 and not a & b
    apart = [set(s.seeds(5000, k)) for s in (seeds.SAMPLES, seeds.GAUSSIAN, seeds.EVALUATION_NOISE) for k in range(3)]
    assert sum(map(len, apart)) == len(set().union(*apart))
    # the one overlap the book's numbers keep: guided sample i of set s is sample i - 3 of set s + 1
    assert seeds.GUIDED_SAMPLES.seed(0, 3) == seeds.SAMPLES.seed(1, 0)


def test_draw_streams_differ_by_path_and_repeat_by_seed():
    a = seeds.REFERENCE_DRAWS.generator(3).integers(1 << 30, size=4)
    assert np.array_equal(a, seeds.REFERENCE_DRAWS.generator(3).integers(1 << 30, size=4))
    others = [seeds.COPIER_DRAWS.generator(3), seeds.EXCHANGE_DRAWS.generator(3, 0), seeds.CHECK_BOOTSTRAP.generator(3),
              seeds.REFERENCE_DRAWS.generator(4)]
    for g in others:
        assert not np.array_equal(a, g.integers(1 << 30, size=4))
    # the exchanged null's draw e is its own generator
    assert not np.array_equal(seeds.EXCHANGE_DRAWS.generator(3, 0).integers(1 << 30, size=4),
                              seeds.EXCHANGE_DRAWS.generator(3, 1).integers(1 << 30, size=4))
