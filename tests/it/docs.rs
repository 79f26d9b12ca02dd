//! The README agrees with action.yml.
