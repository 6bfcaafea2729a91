"""The store: what was processed, every ATS step, folder positions and passes (SQLAlchemy)."""

from daemon.store.database import Store, open_store
from daemon.store.models import Base, FolderState, MessageRecord, PassRecord, StepRecord

__all__ = ["Base", "FolderState", "MessageRecord", "PassRecord", "StepRecord", "Store", "open_store"]
