//! Three namespaces for what a host routes: a client, a router (the host under test)
//! and a backend behind it, reachable from each other only through the router.

use fwdsl::sandbox::Netns;
use std::net::Ipv4Addr;

/// Client, router and backend namespaces: the client and the backend reach each other
/// only through the router.
pub struct Routed {
    pub client: Netns,
    pub router: Netns,
    pub backend: Netns,
}

pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const CLIENT_ALT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 3);
pub const ROUTER_OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const ROUTER_INSIDE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
pub const BACKEND: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

impl Routed {
    pub fn new(prefix: &str) -> Routed {
        let client = Netns::create(&format!("{prefix}-cli")).unwrap();
        let router = Netns::create(&format!("{prefix}-rtr")).unwrap();
        let backend = Netns::create(&format!("{prefix}-be")).unwrap();
        let ip = |ns: &Netns, args: &str| {
            let args: Vec<&str> = args.split(' ').collect();
            ns.exec("ip", &args).unwrap_or_else(|e| panic!("{e}"));
        };
        ip(
            &router,
            &format!(
                "link add outside type veth peer name eth0 netns {}",
                client.name()
            ),
        );
        ip(
            &router,
            &format!(
                "link add inside type veth peer name eth0 netns {}",
                backend.name()
            ),
        );
        ip(
            &router,
            &format!("addr add {ROUTER_OUTSIDE}/24 dev outside"),
        );
        ip(&router, &format!("addr add {ROUTER_INSIDE}/24 dev inside"));
        ip(&router, "link set outside up");
        ip(&router, "link set inside up");
        ip(&client, &format!("addr add {CLIENT}/24 dev eth0"));
        ip(&client, &format!("addr add {CLIENT_ALT}/24 dev eth0"));
        ip(&client, "link set eth0 up");
        ip(&client, &format!("route add default via {ROUTER_OUTSIDE}"));
        ip(&backend, &format!("addr add {BACKEND}/24 dev eth0"));
        ip(&backend, "link set eth0 up");
        ip(&backend, &format!("route add default via {ROUTER_INSIDE}"));
        // Forwarding in the router's namespace only (a per-namespace setting).
        router
            .exec("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"])
            .unwrap();
        Routed {
            client,
            router,
            backend,
        }
    }

    pub fn saved(&self, program: &str) -> String {
        self.router.saved(program).unwrap()
    }

    /// The router's nftables table `ip NAME`, without counters.
    pub fn saved_nft(&self, name: &str) -> String {
        let out = self
            .router
            .exec("nft", &["-s", "list", "table", "ip", name])
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
