//! Kafka's listener-prefixed broker configs, `listener.name.<listener>.<key>`.
//! fjord reads one family of them: the SASL login a broker uses on the
//! inter-broker listener, `listener.name.<listener>.<mechanism>.sasl.jaas.config`
//! (`<module> required username="x" password="y";`, only the user and the
//! password are read). They are not in the key catalogue (their names are
//! patterns): `apply_key` and the TOML loader ask [`parse_name`] first, and
//! their values are secrets (never shown in `Debug` or an error).

use super::BrokerConfig;
use crate::security::Secret;

const PREFIX: &str = "listener.name.";
const JAAS: &str = ".sasl.jaas.config";

/// The (LISTENER, MECHANISM) of a `listener.name.<l>.<m>.sasl.jaas.config`
/// key, upper case; None for any other name.
pub fn parse_name(key: &str) -> Option<(String, String)> {
    let lower = key.to_ascii_lowercase();
    let rest = lower.strip_prefix(PREFIX)?.strip_suffix(JAAS)?;
    let (listener, mechanism) = rest.split_once('.')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    (ok(listener) && ok(mechanism)).then(|| {
        (
            listener.to_ascii_uppercase(),
            mechanism.to_ascii_uppercase(),
        )
    })
}

/// Applies `key` if it is a listener-prefixed key: None when it is not.
/// The error never quotes the value (it holds a password).
pub(super) fn apply(c: &mut BrokerConfig, key: &str, value: &str) -> Option<Result<(), String>> {
    let name = parse_name(key)?;
    Some(login(value).map(|_| {
        c.listener_jaas.insert(name, Secret(value.to_string()));
    }))
}

/// The user and password of a jaas config value; both are required.
pub fn login(value: &str) -> Result<(String, Secret), String> {
    match fjord_client::security::parse_jaas(value) {
        Ok((Some(user), Some(password))) if !user.is_empty() && !password.is_empty() => {
            Ok((user, Secret(password)))
        }
        Ok(_) => Err("the login needs username=\"...\" and password=\"...\"".into()),
        // parse_jaas's errors name the module or the option, never a value.
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_logins() {
        assert_eq!(
            parse_name("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"),
            Some(("SASL_SSL".into(), "SCRAM-SHA-512".into()))
        );
        assert_eq!(parse_name("listener.name.sasl_ssl.sasl.jaas.config"), None);
        assert_eq!(parse_name("sasl.jaas.config"), None);
        let mut c = BrokerConfig::default();
        let v = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="s3cret-pw";"#;
        let key = "listener.name.internal.plain.sasl.jaas.config";
        assert!(apply(&mut c, key, v).unwrap().is_ok());
        let (user, pw) = login(&c.listener_jaas[&("INTERNAL".into(), "PLAIN".into())].0).unwrap();
        assert_eq!((user.as_str(), pw.0.as_str()), ("broker", "s3cret-pw"));
        let e = apply(&mut c, key, r#"x.Other required password="s3cret-pw";"#)
            .unwrap()
            .unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        let e = apply(
            &mut c,
            key,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="s3cret-pw";"#,
        )
        .unwrap()
        .unwrap_err();
        assert!(e.contains("username") && !e.contains("s3cret"), "{e}");
        assert!(apply(&mut c, "log.dirs", "x").is_none());
    }
}
