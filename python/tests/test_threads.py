"""Calls from several threads at once (the GIL is released) give the same results."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import hapscope
from conftest import clusters


def test_concurrent_calls_agree():
    rng = np.random.default_rng(3)
    train, answers = clusters(rng, 3000, 1200, 10)
    test, _ = clusters(rng, 500, 1200, 10)

    def job(_):
        lib = hapscope.Library.build(train, 0.9).link(train, answers)
        return lib.node_ids, lib.links, lib.predict(test)

    ref = job(None)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(job, range(8)))
    for ids, links, scores in results:
        np.testing.assert_array_equal(ids, ref[0])
        np.testing.assert_array_equal(links, ref[1])
        np.testing.assert_array_equal(scores, ref[2])
    # One shared library predicting from many threads.
    lib = hapscope.Library.build(train, 0.9).link(train, answers)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for s in pool.map(lambda _: lib.predict(test), range(8)):
            np.testing.assert_array_equal(s, ref[2])
