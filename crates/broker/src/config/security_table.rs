//! The security part of the broker key table ([`SECURITY_KEYS`]): listener
//! protocols, TLS (`ssl.*`) and SASL settings, the authorizer's
//! (`authorizer.class.name`, `super.users`,
//! `allow.everyone.if.no.acl.found`), with Kafka's names. Joined
//! with `table.rs`'s `BROKER_KEYS` by `keys::broker_keys`. Passwords and
//! inline keys have the PASSWORD type: DescribeConfigs marks them
//! sensitive and never returns their value.

use fjord_storage::config::{parse_bool, parse_int, parse_long};
use fjord_storage::ValueType;

use super::keys::{Apply, BrokerKey, KeyDefault, Mode};
use crate::security::keystore::StoreType;
use crate::security::principal_mapping::PrincipalMapper;
use crate::security::tls::{self, ClientAuth};
use crate::security::Secret;
use crate::security::{authorizer, listeners};

macro_rules! field {
    ($set:expr, $get:expr) => {
        Apply::Field {
            set: $set,
            get: $get,
        }
    };
}

/// A key read once at start.
macro_rules! key {
    ($name:expr, $ty:expr, $default:expr, $doc:expr, $set:expr, $get:expr) => {
        BrokerKey {
            name: $name,
            ty: $ty,
            default: $default,
            mode: Mode::ReadOnly,
            flag: None,
            doc: $doc,
            apply: field!($set, $get),
        }
    };
}

fn optional(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// The SASL mechanisms fjord implements.
pub const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// The SASL mechanisms a broker can authenticate with to another one.
pub const INTER_BROKER_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Security keys, sorted by name.
pub const SECURITY_KEYS: &[BrokerKey] = &[
    key!(
        "allow.everyone.if.no.acl.found",
        ValueType::Boolean,
        KeyDefault::Value("false"),
        "With an authorizer: whether a resource no ACL names is open to everyone (otherwise only super \
         users may use it).",
        |c, v| {
            c.allow_everyone_if_no_acl_found = parse_bool(v)?;
            Ok(())
        },
        |c| Some(c.allow_everyone_if_no_acl_found.to_string())
    ),
    key!(
        "authorizer.class.name",
        ValueType::String,
        KeyDefault::Value(""),
        "The authorizer: org.apache.kafka.metadata.authorizer.StandardAuthorizer (or fjord) enforces ACLs \
         on every API; empty: no authorization, every request is allowed and the ACL APIs answer \
         SECURITY_DISABLED.",
        |c, v| {
            c.authorizer_enabled = authorizer::parse_class(v)?;
            Ok(())
        },
        |c| {
            Some(if c.authorizer_enabled {
                authorizer::CLASS_NAMES[0].to_string()
            } else {
                String::new()
            })
        }
    ),
    key!(
        "connection.failed.authentication.delay.ms",
        ValueType::Int,
        KeyDefault::Value("100"),
        "How long the answer to a failed authentication is delayed before the connection is closed.",
        |c, v| {
            c.failed_auth_delay_ms = parse_int(v, 0, i64::from(i32::MAX))? as u64;
            Ok(())
        },
        |c| Some(c.failed_auth_delay_ms.to_string())
    ),
    key!(
        "connections.max.reauth.ms",
        ValueType::Long,
        KeyDefault::Value("0"),
        "When positive, a SASL session lasts this long (KIP-368): clients re-authenticate on the same \
         connection, and one that does not is closed at its next request. 0: sessions do not expire.",
        |c, v| {
            c.connections_max_reauth_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        |c| Some(c.connections_max_reauth_ms.to_string())
    ),
    key!(
        "fjord.ssl.reload.interval.ms",
        ValueType::Long,
        KeyDefault::Value("5000"),
        "fjord: how often TLS listeners look at the keystore and truststore files; when their content \
         changed, new connections get the reloaded certificate (a store that cannot be used is logged \
         and the previous one kept). 0: never reload.",
        |c, v| {
            c.tls.reload_interval_ms = parse_long(v, 0, i64::MAX)? as u64;
            Ok(())
        },
        |c| Some(c.tls.reload_interval_ms.to_string())
    ),
    key!(
        "inter.broker.listener.name",
        ValueType::String,
        KeyDefault::None,
        "The listener brokers use between themselves in cluster mode (replica fetches, transaction \
         markers): other brokers are dialled at their registered endpoint of this name, with its \
         security protocol. Unset: the listener named as security.inter.broker.protocol. Setting both \
         is an error.",
        |c, v| {
            c.inter_broker_listener = optional(v).map(|s| s.to_ascii_uppercase());
            Ok(())
        },
        |c| c.inter_broker_listener.clone()
    ),
    key!(
        "listener.security.protocol.map",
        ValueType::String,
        KeyDefault::Value(listeners::DEFAULT_PROTOCOL_MAP),
        "Each listener name's security protocol (NAME:PROTOCOL,...; PLAINTEXT, SSL, SASL_PLAINTEXT, \
         SASL_SSL).",
        |c, v| {
            c.protocol_map = listeners::parse_protocol_map(v)?;
            Ok(())
        },
        |c| Some(listeners::print_protocol_map(&c.protocol_map))
    ),
    key!(
        "sasl.enabled.mechanisms",
        ValueType::List,
        KeyDefault::Value("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"),
        "The SASL mechanisms SASL listeners accept. Kafka's default is GSSAPI; fjord has PLAIN, \
         SCRAM-SHA-256 and SCRAM-SHA-512 (all verified against the SCRAM user store) and enables them all \
         by default, and OAUTHBEARER (JWTs checked against sasl.oauthbearer.jwks.endpoint.url) when listed.",
        |c, v| {
            let mut out = Vec::new();
            for m in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !MECHANISMS.contains(&m) {
                    return Err(format!("{m:?} is not one of {}", MECHANISMS.join(", ")));
                }
                out.push(m.to_string());
            }
            c.sasl_mechanisms = out;
            Ok(())
        },
        |c| Some(c.sasl_mechanisms.join(","))
    ),
    key!(
        "sasl.mechanism.inter.broker.protocol",
        ValueType::String,
        KeyDefault::None,
        "The SASL mechanism this broker authenticates with to other brokers when the inter-broker \
         listener is SASL_PLAINTEXT or SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, one of \
         sasl.enabled.mechanisms; required then (Kafka's default GSSAPI is not supported). The user \
         and password come from listener.name.<listener>.<mechanism>.sasl.jaas.config.",
        |c, v| {
            c.inter_broker_sasl_mechanism = match optional(v) {
                None => None,
                Some(m) => {
                    let m = m.to_ascii_uppercase();
                    if !INTER_BROKER_MECHANISMS.contains(&m.as_str()) {
                        return Err(format!(
                            "{m:?} is not one of {}",
                            INTER_BROKER_MECHANISMS.join(", ")
                        ));
                    }
                    Some(m)
                }
            };
            Ok(())
        },
        |c| c.inter_broker_sasl_mechanism.clone()
    ),
    key!(
        "sasl.oauthbearer.clock.skew.seconds",
        ValueType::Int,
        KeyDefault::Value("30"),
        "Seconds of clock difference allowed when checking an OAUTHBEARER token's exp and nbf.",
        |c, v| {
            c.oauth.clock_skew_s = parse_int(v, 0, i64::from(i32::MAX))? as u64;
            Ok(())
        },
        |c| Some(c.oauth.clock_skew_s.to_string())
    ),
    key!(
        "sasl.oauthbearer.expected.audience",
        ValueType::List,
        KeyDefault::Value(""),
        "When set, an OAUTHBEARER token's aud must name one of these.",
        |c, v| {
            c.oauth.expected_audience = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            Ok(())
        },
        |c| Some(c.oauth.expected_audience.join(","))
    ),
    key!(
        "sasl.oauthbearer.expected.issuer",
        ValueType::String,
        KeyDefault::None,
        "When set, an OAUTHBEARER token's iss must be this.",
        |c, v| {
            c.oauth.expected_issuer = optional(v);
            Ok(())
        },
        |c| c.oauth.expected_issuer.clone()
    ),
    key!(
        "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        ValueType::Long,
        KeyDefault::Value("3600000"),
        "How often the OAUTHBEARER key set is read again (also when a token names an unknown key id, \
         at most every 10 s).",
        |c, v| {
            c.oauth.refresh_ms = parse_long(v, 1000, i64::MAX)? as u64;
            Ok(())
        },
        |c| Some(c.oauth.refresh_ms.to_string())
    ),
    key!(
        "sasl.oauthbearer.jwks.endpoint.url",
        ValueType::String,
        KeyDefault::None,
        "The JSON Web Key Set OAUTHBEARER tokens are checked against: an http(s):// URL, a file:// URL \
         or a path. Required when OAUTHBEARER is enabled.",
        |c, v| {
            c.oauth.jwks_url = v.trim().to_string();
            Ok(())
        },
        |c| optional(&c.oauth.jwks_url)
    ),
    key!(
        "sasl.oauthbearer.sub.claim.name",
        ValueType::String,
        KeyDefault::Value("sub"),
        "The OAUTHBEARER token claim that names the principal (User:<claim>).",
        |c, v| {
            let v = v.trim();
            if v.is_empty() {
                return Err("must not be empty".into());
            }
            c.oauth.sub_claim = v.to_string();
            Ok(())
        },
        |c| Some(c.oauth.sub_claim.clone())
    ),
    key!(
        "sasl.server.max.receive.size",
        ValueType::Int,
        KeyDefault::Value("524288"),
        "The largest request read from a SASL client before it has authenticated; a larger size closes \
         the connection before anything is allocated.",
        |c, v| {
            c.sasl_max_receive_size = parse_int(v, 1024, i64::from(i32::MAX))? as usize;
            Ok(())
        },
        |c| Some(c.sasl_max_receive_size.to_string())
    ),
    key!(
        "security.inter.broker.protocol",
        ValueType::String,
        KeyDefault::None,
        "The security protocol between brokers when inter.broker.listener.name is not set: the \
         listener of that name is used. Unset: PLAINTEXT (Kafka's default). Setting both is an error.",
        |c, v| {
            c.inter_broker_protocol = match optional(v) {
                None => None,
                Some(p) => Some(
                    listeners::SecurityProtocol::parse(&p)
                        .ok_or_else(|| format!("{p:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"))?,
                ),
            };
            Ok(())
        },
        |c| c.inter_broker_protocol.map(|p| p.name().to_string())
    ),
    key!(
        "ssl.client.auth",
        ValueType::String,
        KeyDefault::Value("none"),
        "Whether TLS listeners ask clients for a certificate: none, requested or required (mTLS; the \
         principal is User:<subject DN>). Client certificates are checked against the truststore.",
        |c, v| {
            c.tls.client_auth = ClientAuth::parse(v)?;
            Ok(())
        },
        |c| Some(c.tls.client_auth.name().to_string())
    ),
    key!(
        "ssl.enabled.protocols",
        ValueType::List,
        KeyDefault::Value("TLSv1.2,TLSv1.3"),
        "The TLS versions offered; fjord accepts only TLSv1.2 and TLSv1.3.",
        |c, v| {
            c.tls.enabled_protocols = tls::parse_protocols(v)?;
            Ok(())
        },
        |c| Some(c.tls.enabled_protocols.join(","))
    ),
    key!(
        "ssl.key.password",
        ValueType::Password,
        KeyDefault::None,
        "The password of the private key: with PEM, of an encrypted PKCS#8 key (ENCRYPTED PRIVATE \
         KEY, PBES2) in ssl.keystore.location or ssl.keystore.key; with PKCS12, fjord reads stores \
         whose key has the store's password, so when set it must equal ssl.keystore.password.",
        |c, v| {
            c.tls.key_password = optional(v).map(Secret);
            Ok(())
        },
        |c| c.tls.key_password.as_ref().map(|s| s.0.clone())
    ),
    key!(
        "ssl.keystore.certificate.chain",
        ValueType::Password,
        KeyDefault::None,
        "The listener's certificate chain as inline PEM (with ssl.keystore.key).",
        |c, v| {
            c.tls.keystore_certificate_chain = optional(v).map(Secret);
            Ok(())
        },
        |c| c.tls.keystore_certificate_chain.as_ref().map(|s| s.0.clone())
    ),
    key!(
        "ssl.keystore.key",
        ValueType::Password,
        KeyDefault::None,
        "The listener's private key as inline PEM (PKCS#8, PKCS#1 or SEC1, unencrypted).",
        |c, v| {
            c.tls.keystore_key = optional(v).map(Secret);
            Ok(())
        },
        |c| c.tls.keystore_key.as_ref().map(|s| s.0.clone())
    ),
    key!(
        "ssl.keystore.location",
        ValueType::String,
        KeyDefault::None,
        "The listener's keystore file: PEM (private key and certificate chain) or PKCS12 (with \
         ssl.keystore.password), as ssl.keystore.type says. Reloaded when it changes.",
        |c, v| {
            c.tls.keystore_location = optional(v);
            Ok(())
        },
        |c| c.tls.keystore_location.clone()
    ),
    key!(
        "ssl.keystore.password",
        ValueType::Password,
        KeyDefault::None,
        "The password of a PKCS12 keystore (required with it; not for PEM).",
        |c, v| {
            c.tls.keystore_password = optional(v).map(Secret);
            Ok(())
        },
        |c| c.tls.keystore_password.as_ref().map(|s| s.0.clone())
    ),
    key!(
        "ssl.keystore.type",
        ValueType::String,
        KeyDefault::Value("PEM"),
        "The keystore format: PEM or PKCS12. Kafka's default is JKS, which fjord does not read.",
        |c, v| {
            c.tls.keystore_type = StoreType::parse(v)?;
            Ok(())
        },
        |c| Some(c.tls.keystore_type.name().into())
    ),
    key!(
        "ssl.principal.mapping.rules",
        ValueType::String,
        KeyDefault::Value("DEFAULT"),
        "How a client certificate's subject DN (as RFC 2253 prints it) becomes the name of a User: \
         principal: comma-separated rules, the first that applies wins: RULE:pattern/replacement/ with \
         an optional L or U (lower or upper case) applies when the pattern matches the whole DN, \
         DEFAULT takes the DN as it is. A client no rule applies to is refused.",
        |c, v| {
            PrincipalMapper::parse(v)?;
            c.tls.principal_mapping_rules = v.to_string();
            Ok(())
        },
        |c| Some(c.tls.principal_mapping_rules.clone())
    ),
    key!(
        "ssl.truststore.certificates",
        ValueType::Password,
        KeyDefault::None,
        "The CA certificates client certificates are checked against, as inline PEM.",
        |c, v| {
            c.tls.truststore_certificates = optional(v).map(Secret);
            Ok(())
        },
        |c| c.tls.truststore_certificates.as_ref().map(|s| s.0.clone())
    ),
    key!(
        "ssl.truststore.location",
        ValueType::String,
        KeyDefault::None,
        "The truststore file of the CA certificates client certificates are checked against: PEM or \
         PKCS12 (with ssl.truststore.password), as ssl.truststore.type says. Reloaded when it changes.",
        |c, v| {
            c.tls.truststore_location = optional(v);
            Ok(())
        },
        |c| c.tls.truststore_location.clone()
    ),
    key!(
        "ssl.truststore.password",
        ValueType::Password,
        KeyDefault::None,
        "The password of a PKCS12 truststore (not for PEM). Without it the store is read with an \
         empty password, so one written with a password is refused (Kafka then skips the integrity \
         check).",
        |c, v| {
            c.tls.truststore_password = optional(v).map(Secret);
            Ok(())
        },
        |c| c.tls.truststore_password.as_ref().map(|s| s.0.clone())
    ),
    key!(
        "ssl.truststore.type",
        ValueType::String,
        KeyDefault::Value("PEM"),
        "The truststore format: PEM or PKCS12. Kafka's default is JKS, which fjord does not read.",
        |c, v| {
            c.tls.truststore_type = StoreType::parse(v)?;
            Ok(())
        },
        |c| Some(c.tls.truststore_type.name().into())
    ),
    key!(
        "super.users",
        ValueType::List,
        KeyDefault::Value(""),
        "Principals allowed every operation whatever the ACLs say, separated by semicolons \
         (User:admin;User:ops).",
        |c, v| {
            c.super_users = authorizer::parse_super_users(v)?;
            Ok(())
        },
        |c| Some(c.super_users.join(";"))
    ),
];
