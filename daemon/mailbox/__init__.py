"""Mail sources: a real IMAP folder, or a local folder of .eml files (demo, backfills)."""

from daemon.mailbox.base import FolderInfo, Mailbox, MessageKey

__all__ = ["FolderInfo", "Mailbox", "MessageKey"]
