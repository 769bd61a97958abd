"""What a worker is built from is shown without any model's credentials (no Ray needed)."""

from __future__ import annotations

import sharedlm
from sharedlm.runner._ray._runner import RayPlan
from sharedlm.runner._ray._worker import WorkerSetup

KEY = "sk-worker-setup-0123456789"
URL_SECRET = "url-secret-0123456789"


def test_a_worker_setup_repr_shows_no_credential_of_the_other_models() -> None:
    sharedlm.configure(model="openai/draft-model", api_key=KEY,
                       api_base=f"http://127.0.0.1:9/v1?api-key={URL_SECRET}",
                       models={"openai/judge-model": {"rpm": 500, "aws_session_token": URL_SECRET}})
    plan = RayPlan(session=None, workers=2, recipe=None, settings=sharedlm.get_settings())  # type: ignore[arg-type]
    models = plan.worker_models()
    setup = WorkerSetup(index=0, settings=plan.worker_settings(), program=None, rows=None,  # type: ignore[arg-type]
                        models=models)
    assert models["openai/judge-model"]["api_key"] == KEY  # the worker still gets the key
    shown = repr(setup)
    assert "openai/judge-model" in shown
    assert KEY not in shown
    assert URL_SECRET not in shown
