//! The nftables rendering of [`Clauses`](super::Clauses) (to come).
