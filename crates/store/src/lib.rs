//! Mailbox index over MH folders: stable UIDs, MODSEQ, caches and change events.
