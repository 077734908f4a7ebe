//! Unit tests of the timer model: every completion-code path and each
//! profile deviation.

use super::*;
