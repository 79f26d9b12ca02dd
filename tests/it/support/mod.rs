//! Test harness: a builder that spawns the real binary, and the local stand-ins the tests start and stop by PID.
