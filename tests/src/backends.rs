//! Kernel tests of what both backends do, written once.

/// A kernel test that runs once per backend: `each_backend! { fn name(backend) { … } }`
/// is a module `name` with the tests `iptables` and `nftables`, each running the body
/// with `backend` set. What both backends do is tested once, never copied.
#[macro_export]
macro_rules! each_backend {
    ($(#[$attr:meta])* fn $name:ident($backend:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($backend: fwdsl::Backend) $body

            #[test]
            fn iptables() {
                body(fwdsl::Backend::Iptables)
            }

            #[test]
            fn nftables() {
                body(fwdsl::Backend::Nftables)
            }
        }
    };
}
