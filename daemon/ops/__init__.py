"""Operations: the service, the scheduler, IMAP IDLE, systemd notify, metrics, health and alerts."""
