//! Shared helpers for the workspace-level integration and property tests in `tests/tests/`.
