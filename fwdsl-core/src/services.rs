//! Service names the language knows: every service of the reference VPS guide's port
//! table (with its own spellings, such as `www`), `ssh`, and the common
//! `/etc/services` names a server uses, built in: a build never depends on the
//! services file of the machine it runs on. Protocols follow IANA's assignments: DNS
//! and Kerberos answer over UDP and TCP, NTP, SNMP and syslog over UDP.

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

const fn udp(name: &'static str, port: u16) -> Service {
    Service {
        name,
        protocols: ProtoSet::UDP,
        port,
    }
}

const fn both(name: &'static str, port: u16) -> Service {
    Service {
        name,
        protocols: ProtoSet::TCP_UDP,
        port,
    }
}

/// Every known service, in port order.
pub const SERVICES: &[Service] = &[
    tcp("ftp-data", 20),
    tcp("ftp", 21),
    tcp("ssh", 22),
    tcp("telnet", 23),
    tcp("smtp", 25),
    both("dns", 53),
    both("domain", 53),
    both("kerberos", 88),
    tcp("http", 80),
    tcp("www", 80),
    tcp("pop3", 110),
    udp("ntp", 123),
    tcp("imap", 143),
    udp("snmp", 161),
    tcp("bgp", 179),
    tcp("imap3", 220),
    tcp("ldap", 389),
    tcp("https", 443),
    tcp("smtps", 465),
    udp("syslog", 514),
    tcp("submission", 587),
    tcp("ldaps", 636),
    tcp("rsync", 873),
    tcp("imaps", 993),
    tcp("pop3s", 995),
    udp("openvpn", 1194),
    tcp("cvspserver", 2401),
    tcp("mysql", 3306),
    tcp("svn", 3690),
    tcp("sieve", 4190),
    both("sip", 5060),
    tcp("xmpp-client", 5222),
    tcp("postgresql", 5432),
    tcp("redis", 6379),
    tcp("webcache", 8080),
    tcp("http-alt", 8080),
    tcp("git", 9418),
    tcp("mongodb", 27017),
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
        // The guide's own spelling, and what servers reach for.
        assert_eq!(Service::find("www").unwrap().port, 80);
        assert_eq!(Service::find("ntp").unwrap().protocols, ProtoSet::UDP);
        assert_eq!(Service::find("submission").unwrap().port, 587);
    }
}
