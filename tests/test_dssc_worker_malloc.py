"""The dask path of DSSC binning: a worker spawned by distributed's nanny has
MALLOC_TRIM_THRESHOLD_ set, which makes every large temporary a fresh mmap (page
faults each task); processing.tune_worker_malloc restores heap reuse."""

import os
import subprocess
import sys

CODE = r"""
import resource
import numpy as np
from scs_nb.detectors.dssc.binning import process as processing

def work():
    # 2 MB float64 temporaries, like a module's accumulators and means (below numpy's
    # 4 MB huge-page threshold, above glibc's fixed 128 kB mmap threshold)
    for _ in range(5):
        a = np.ones((4, 65536)); b = a * 2; b -= a; del a, b

def faults():
    work()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    work()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

before = faults()
tuned = processing.tune_worker_malloc()
print(before, faults(), tuned, processing.tune_worker_malloc())
"""


def run(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]), out[2] == "True", out[3] == "True"


def test_tuning_removes_the_page_faults_of_a_nanny_worker():
    before, after, tuned, again = run({"MALLOC_TRIM_THRESHOLD_": "65536"})
    # 5 x 2 arrays x 512 pages faulted per pass with the nanny's setting
    assert before > 3000, before
    assert tuned and not again  # once per process
    assert after < before / 10, (before, after)


def test_no_tuning_outside_a_nanny_worker():
    before, after, tuned, _ = run({})
    assert not tuned  # this process's malloc is left alone
