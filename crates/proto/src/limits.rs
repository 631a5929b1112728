//! Session options that bound what the command parser accepts.

/// Maximum literal size after login: 10 MiB, the limit of the Python asimap server.
pub const MAX_LITERAL_LEN: u64 = 10 * 1024 * 1024;

/// Maximum literal size before login. Only LOGIN credentials and ID values can arrive as
/// literals then, so a few kilobytes suffice.
pub const PRE_AUTH_MAX_LITERAL_LEN: u64 = 8 * 1024;

/// Maximum non-synchronising literal size under LITERAL- (RFC 7888 §5).
pub const LITERAL_MINUS_MAX_LEN: u64 = 4096;

/// Maximum length of one line (the text between literals), CRLF included. RFC 7162 §4
/// recommends that clients keep command lines to about 8192 octets, and a server gets
/// longer ones from clients that send long UID sets anyway.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// Maximum line length before login.
pub const PRE_AUTH_MAX_LINE_LEN: usize = 8 * 1024;

/// Maximum bytes of one command held in memory: its lines plus the literals the session
/// accepted into memory. Literals streamed to a file do not count.
pub const MAX_COMMAND_LEN: usize = MAX_LITERAL_LEN as usize + MAX_LINE_LEN;

/// Maximum bytes of one command held in memory before login: room for a LOGIN with a user
/// name and a password literal of [`PRE_AUTH_MAX_LITERAL_LEN`] each.
pub const PRE_AUTH_MAX_COMMAND_LEN: usize =
    PRE_AUTH_MAX_LINE_LEN + 2 * PRE_AUTH_MAX_LITERAL_LEN as usize;

/// Maximum nesting depth of parenthesised lists and search keys (`NOT`, `OR` and
/// parenthesised groups each add one level).
pub const MAX_DEPTH: usize = 32;

/// Limits and options the parser applies to one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum length of one line in bytes, CRLF included.
    pub max_line_len: usize,
    /// Maximum length of any literal in bytes.
    pub max_literal_len: u64,
    /// Maximum length of a non-synchronising literal (`{n+}`) in bytes.
    pub max_non_sync_literal_len: u64,
    /// Maximum bytes of one command kept in memory.
    pub max_command_len: usize,
    /// Maximum nesting depth of lists and search keys.
    pub max_depth: usize,
    /// Whether the client enabled UTF8=ACCEPT (RFC 6855), so mailbox names are UTF-8
    /// rather than modified UTF-7.
    pub utf8_accept: bool,
}

impl Limits {
    /// Limits for an authenticated session.
    pub const fn authenticated() -> Self {
        Limits {
            max_line_len: MAX_LINE_LEN,
            max_literal_len: MAX_LITERAL_LEN,
            max_non_sync_literal_len: MAX_LITERAL_LEN,
            max_command_len: MAX_COMMAND_LEN,
            max_depth: MAX_DEPTH,
            utf8_accept: false,
        }
    }

    /// Limits for a connection that has not logged in yet.
    pub const fn pre_auth() -> Self {
        Limits {
            max_line_len: PRE_AUTH_MAX_LINE_LEN,
            max_literal_len: PRE_AUTH_MAX_LITERAL_LEN,
            max_non_sync_literal_len: PRE_AUTH_MAX_LITERAL_LEN,
            max_command_len: PRE_AUTH_MAX_COMMAND_LEN,
            max_depth: MAX_DEPTH,
            utf8_accept: false,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::authenticated()
    }
}
