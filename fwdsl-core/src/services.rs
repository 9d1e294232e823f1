//! Service names the language knows: every service of the reference VPS guide's port
//! table, plus `ssh`. Protocols follow IANA's assignments as the guide uses them: DNS
//! answers over UDP and TCP, the others are TCP services.

use crate::model::ProtoSet;

/// A named service: what `allow http;` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The name used in policies.
    pub name: &'static str,
    /// The protocols it runs over.
    pub protocols: ProtoSet,
    /// Its destination port.
    pub port: u16,
}

const fn tcp(name: &'static str, port: u16) -> Service {
    Service {
        name,
        protocols: ProtoSet::TCP,
        port,
    }
}

/// Every known service, in port order.
pub const SERVICES: &[Service] = &[
    tcp("ftp-data", 20),
    tcp("ftp", 21),
    tcp("ssh", 22),
    tcp("smtp", 25),
    Service {
        name: "dns",
        protocols: ProtoSet::TCP_UDP,
        port: 53,
    },
    tcp("http", 80),
    tcp("pop3", 110),
    tcp("imap", 143),
    tcp("imap3", 220),
    tcp("ldap", 389),
    tcp("https", 443),
    tcp("smtps", 465),
    tcp("imaps", 993),
    tcp("cvspserver", 2401),
    tcp("mysql", 3306),
    tcp("svn", 3690),
    tcp("postgresql", 5432),
    tcp("webcache", 8080),
];

impl Service {
    /// Looks a service up by name.
    pub fn find(name: &str) -> Option<&'static Service> {
        SERVICES.iter().find(|s| s.name == name)
    }

    /// The known name closest to `name`, when one is close enough to be a likely typo.
    pub fn closest(name: &str) -> Option<&'static str> {
        SERVICES
            .iter()
            .map(|s| (strsim::damerau_levenshtein(name, s.name), s.name))
            .filter(|&(distance, known)| distance <= 2.max(known.len() / 3))
            .min()
            .map(|(_, known)| known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_guide_services_and_suggests_typos() {
        assert_eq!(Service::find("postgresql").unwrap().port, 5432);
        assert_eq!(Service::find("dns").unwrap().protocols, ProtoSet::TCP_UDP);
        assert_eq!(Service::closest("htps"), Some("https"));
        assert_eq!(Service::closest("postgres"), Some("postgresql"));
        assert_eq!(Service::closest("kubernetes"), None);
    }
}
