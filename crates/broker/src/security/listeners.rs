//! Named listeners as Kafka configures them: `listeners`,
//! `advertised.listeners`, `listener.security.protocol.map`.
//!
//! A listener is `NAME://HOST:PORT`; its security protocol is the one the
//! protocol map gives its name (by default PLAINTEXT, SSL, SASL_PLAINTEXT
//! and SASL_SSL map to themselves). A bare `HOST:PORT` (fjord's older form)
//! is the PLAINTEXT listener. Pure parsing: no I/O here.

use std::fmt;

/// Kafka's security protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(s: &str) -> Option<SecurityProtocol> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections are wrapped in TLS.
    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether clients must authenticate with SASL before anything else.
    pub fn sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// Kafka's default `listener.security.protocol.map`.
pub const DEFAULT_PROTOCOL_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// One `NAME://HOST:PORT` entry of `listeners` or `advertised.listeners`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The listener name, upper case as Kafka normalizes it.
    pub name: String,
    /// `HOST:PORT` (IPv6 hosts in brackets).
    pub addr: String,
}

impl Endpoint {
    /// `(host, port)` as metadata responses carry them.
    pub fn host_port(&self) -> Option<(String, i32)> {
        crate::config::split_host_port(&self.addr)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.name, self.addr)
    }
}

/// Parses a listener list: comma-separated `NAME://HOST:PORT` (a bare
/// `HOST:PORT` is the PLAINTEXT listener). Names must be unique.
pub fn parse_endpoints(v: &str) -> Result<Vec<Endpoint>, String> {
    let mut out: Vec<Endpoint> = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, addr) = match item.split_once("://") {
            Some((n, a)) => (n.trim().to_ascii_uppercase(), a.trim()),
            None => ("PLAINTEXT".to_string(), item),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "{item:?}: listener name {name:?} is not [A-Za-z0-9_]+"
            ));
        }
        let valid_port =
            crate::config::split_host_port(addr).is_some_and(|(_, p)| (0..=65535).contains(&p));
        if !valid_port {
            return Err(format!("{item:?}: {addr:?} is not HOST:PORT"));
        }
        if out.iter().any(|e| e.name == name) {
            return Err(format!("listener name {name} appears twice"));
        }
        out.push(Endpoint {
            name,
            addr: addr.to_string(),
        });
    }
    if out.is_empty() {
        return Err("no listener given".into());
    }
    Ok(out)
}

/// Prints a listener list back in Kafka's form.
pub fn print_endpoints(e: &[Endpoint]) -> String {
    e.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `listener.security.protocol.map`: `NAME:PROTOCOL,...`.
pub fn parse_protocol_map(v: &str) -> Result<Vec<(String, SecurityProtocol)>, String> {
    let mut out: Vec<(String, SecurityProtocol)> = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, proto) = item
            .split_once(':')
            .ok_or_else(|| format!("{item:?} is not NAME:PROTOCOL"))?;
        let proto = SecurityProtocol::parse(proto).ok_or_else(|| {
            format!("{proto:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        })?;
        let name = name.trim().to_ascii_uppercase();
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("listener name {name} is mapped twice"));
        }
        out.push((name, proto));
    }
    Ok(out)
}

/// Prints a protocol map back in Kafka's form.
pub fn print_protocol_map(m: &[(String, SecurityProtocol)]) -> String {
    m.iter()
        .map(|(n, p)| format!("{n}:{}", p.name()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A listener the broker binds: its name, address and security protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub addr: String,
    pub protocol: SecurityProtocol,
    /// What clients connecting here are told to connect to (the same
    /// name's entry of `advertised.listeners`, else `addr`).
    pub advertised: Endpoint,
}

/// Joins the listener settings into the listeners to bind, checking them
/// together as Kafka does: every listener name has a protocol, every
/// advertised name is a listener, the inter-broker name is a listener.
pub fn resolve(
    listeners: &[Endpoint],
    advertised: &[Endpoint],
    map: &[(String, SecurityProtocol)],
    inter_broker: Option<&str>,
) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for l in listeners {
        let protocol = map
            .iter()
            .find(|(n, _)| *n == l.name)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                format!(
                    "listener {} has no security protocol in listener.security.protocol.map",
                    l.name
                )
            })?;
        let adv = advertised
            .iter()
            .find(|a| a.name == l.name)
            .cloned()
            .unwrap_or_else(|| l.clone());
        out.push(Listener {
            name: l.name.clone(),
            addr: l.addr.clone(),
            protocol,
            advertised: adv,
        });
    }
    if let Some(a) = advertised
        .iter()
        .find(|a| !listeners.iter().any(|l| l.name == a.name))
    {
        return Err(format!(
            "advertised.listeners names {}, which is not in listeners",
            a.name
        ));
    }
    if let Some(ib) = inter_broker {
        if !listeners.iter().any(|l| l.name.eq_ignore_ascii_case(ib)) {
            return Err(format!(
                "inter.broker.listener.name {ib} is not in listeners"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_listeners_and_the_bare_form() {
        let l = parse_endpoints("PLAINTEXT://127.0.0.1:9092, sasl_ssl://127.0.0.1:9094").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].name, "SASL_SSL");
        assert_eq!(l[1].addr, "127.0.0.1:9094");
        let bare = parse_endpoints("127.0.0.1:9092").unwrap();
        assert_eq!(bare[0].name, "PLAINTEXT");
        assert_eq!(
            print_endpoints(&l),
            "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094"
        );
        assert!(parse_endpoints("A://x:1,A://x:2").is_err());
        assert!(parse_endpoints("A://nohost").is_err());
        assert!(parse_endpoints("").is_err());
        assert!(parse_endpoints("A-B://h:1").is_err());
    }

    #[test]
    fn resolves_protocols_and_advertised_addresses() {
        let map = parse_protocol_map(DEFAULT_PROTOCOL_MAP).unwrap();
        let l = parse_endpoints("PLAINTEXT://0.0.0.0:9092,SASL_SSL://0.0.0.0:9094").unwrap();
        let a = parse_endpoints("SASL_SSL://broker.example:9094").unwrap();
        let r = resolve(&l, &a, &map, Some("PLAINTEXT")).unwrap();
        assert_eq!(r[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(r[0].advertised.addr, "0.0.0.0:9092");
        assert_eq!(r[1].protocol, SecurityProtocol::SaslSsl);
        assert_eq!(r[1].advertised.addr, "broker.example:9094");
        // A custom name needs a map entry.
        let custom = parse_endpoints("INTERNAL://127.0.0.1:1").unwrap();
        assert!(resolve(&custom, &[], &map, None).is_err());
        let map2 = parse_protocol_map("INTERNAL:SSL").unwrap();
        assert_eq!(
            resolve(&custom, &[], &map2, None).unwrap()[0].protocol,
            SecurityProtocol::Ssl
        );
        // Advertised names must be listeners; so must the inter-broker one.
        let other = parse_endpoints("SSL://h:1").unwrap();
        assert!(resolve(&l, &other, &map, None).is_err());
        assert!(resolve(&l, &[], &map, Some("SSL")).is_err());
        assert!(parse_protocol_map("A:TLS").is_err());
    }
}
