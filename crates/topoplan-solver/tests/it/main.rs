//! The solver's integration tests, one test binary: property tests of the offsets and the
//! plan, the profile rules, and the review warnings.

mod clusters;
mod locks;
mod offsets_exact;
mod profile_rules;
mod proptests;
mod review_warnings;
