"""Mail sources: a real IMAP folder, or a local folder of .eml files (demo, backfills)."""

from daemon.domain import MessageKey
from daemon.mailbox.base import FolderInfo, Mailbox

__all__ = ["FolderInfo", "Mailbox", "MessageKey"]
