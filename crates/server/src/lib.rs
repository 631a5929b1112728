//! Root listener: TLS, pre-authentication, worker supervision and the log sink.
