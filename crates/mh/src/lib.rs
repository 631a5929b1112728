//! MH folders on disk, safe alongside running nmh commands.
