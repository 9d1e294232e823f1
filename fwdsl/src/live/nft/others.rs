//! The other tables' base chains on the hooks fwdsl uses (to come).
