"""Jobs an API worker forwards to the primary: by name, over a real pipe, known jobs only."""

import pytest

from estate.context import Context
from estate.jobs.action import run_action
from estate.jobs.collect import run_collection
from estate.jobs.forward import JOBS, ForwardingExecutor, JobPipe


def test_a_worker_sends_a_known_job_by_name_and_refuses_any_other() -> None:
    pipe = JobPipe.open()
    worker = ForwardingExecutor(pipe.writer)

    worker.submit(run_collection, 7)
    worker.submit(run_action, 8)

    assert pipe.recv() == ("run_collection", 7)
    assert pipe.recv() == ("run_action", 8)
    assert JOBS["run_collection"] is run_collection

    def run_collection_lookalike(context: Context, run_id: int) -> None: ...

    run_collection_lookalike.__name__ = "run_collection"
    with pytest.raises(ValueError, match="cannot be forwarded to the primary"):
        worker.submit(run_collection_lookalike, 9)
    assert not pipe.reader.poll(0.1)  # nothing was sent for it
