"""The ATS adapter: the only place that knows the Skailer API.

    models     frozen data: AtsId, Job, Pipeline, Stage, Source, UploadedCv
    reading    tolerant, pure reading of the answers' shapes
    client     AtsClient: the seven calls over httpx, errors translated at the boundary
    outcomes   the table of failed calls: "not done" (send again) or "unknown" (may be done)
    retry      RetryPolicy and full-jitter backoff, honouring Retry-After
    breaker    CircuitBreaker: fail fast while the ATS is down
    directory  AtsDirectory: steps 1-3 cached (open jobs, pipelines, the source)
"""

from daemon.ats.breaker import CircuitBreaker, CircuitOpen
from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.models import AtsId, Job, Pipeline, Source, Stage, UploadedCv
from daemon.ats.retry import RetryPolicy

__all__ = [
    "AtsClient",
    "AtsDirectory",
    "AtsId",
    "CircuitBreaker",
    "CircuitOpen",
    "Job",
    "Pipeline",
    "RetryPolicy",
    "Source",
    "Stage",
    "UploadedCv",
]
