//! The `asimapd` program's configuration, shared by the binary and its tests.

pub mod config;
