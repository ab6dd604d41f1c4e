"""Settings of the example service (section ``example``, env ``DETEKTOR_EXAMPLE__*``)."""

from pydantic import BaseModel, ConfigDict, Field


class ExampleSettings(BaseModel):
    """How much real work one step of ``POST /v1/work`` does."""

    model_config = ConfigDict(extra="forbid")

    step_bytes: int = Field(
        default=4096, ge=1, le=1_048_576, description="bytes hashed by each work step"
    )
