"""HTTP API of the example service: ``POST /v1/work``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["example"])


class WorkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: int = Field(ge=1, le=1000, description="how many work steps to run (1 to 1000)")


class WorkResponse(BaseModel):
    trace_id: str = Field(description="the trace of this request, 32 hex digits")
    items: int


@router.post("/work", response_model=WorkResponse)
async def work(body: WorkRequest, request: Request) -> WorkResponse:
    """Run ``items`` traced steps of real work and count them."""
    worker = request.app.state.worker
    # Hashing is CPU work: keep it off the event loop so health checks stay responsive.
    result = await run_in_threadpool(worker.work, body.items)
    return WorkResponse(trace_id=result.trace_id, items=result.items)
